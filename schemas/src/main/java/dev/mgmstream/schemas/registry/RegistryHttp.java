package dev.mgmstream.schemas.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends one JSON request to the registry and turns the answer into JSON or a {@link SchemaRegistryException}.
 * Retries answers that may change on their own (5xx, no answer) with doubling backoff, moving to the next
 * URL each time; 4xx answers are final and returned at once.
 */
final class RegistryHttp {
    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final String ACCEPT =
            "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5";
    private static final Logger LOG = LoggerFactory.getLogger(RegistryHttp.class);

    private final SchemaRegistryConfig config;
    private final HttpClient http;
    private final ObjectMapper json;

    RegistryHttp(SchemaRegistryConfig config, ObjectMapper json) {
        this.config = config;
        this.json = json;
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(config.connectTimeout());
        config.tls().ifPresent(builder::sslContext);
        this.http = builder.build();
    }

    /**
     * @param what the call in words, naming its subject or id, for error messages
     * @param body JSON body, or null for GET
     */
    JsonNode call(String method, String path, JsonNode body, String what) {
        SchemaRegistryException last = null;
        for (int attempt = 0; attempt <= config.retries(); attempt++) {
            URI base = config.urls().get(attempt % config.urls().size());
            if (attempt > 0) {
                backOff(attempt, what, last);
            }
            try {
                return once(base, method, path, body, what);
            } catch (SchemaRegistryException e) {
                if (!e.retriable()) {
                    throw e;
                }
                last = e;
            }
        }
        throw last;
    }

    private JsonNode once(URI base, String method, String path, JsonNode body, String what) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(config.requestTimeout())
                .header("Accept", ACCEPT);
        config.authorization().ifPresent(value -> request.header("Authorization", value));
        if (body == null) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            request.header("Content-Type", CONTENT_TYPE)
                    .method(method, HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8));
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SchemaRegistryException("Schema registry " + base + ": " + what + " failed, no answer: " + e, -1, -1, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException("Interrupted while " + what + " at schema registry " + base, -1, -1, e);
        }
        return parse(base, response, what);
    }

    private JsonNode parse(URI base, HttpResponse<String> response, String what) {
        int status = response.statusCode();
        JsonNode node;
        try {
            node = response.body() == null || response.body().isBlank() ? json.nullNode() : json.readTree(response.body());
        } catch (IOException e) {
            node = null;
        }
        if (status >= 200 && status < 300) {
            if (node == null) {
                throw new SchemaRegistryException("Schema registry " + base + ": " + what
                        + " returned HTTP " + status + " with a body that is not JSON: " + abbreviate(response.body()), status, -1, null);
            }
            return node;
        }
        int errorCode = node != null && node.has("error_code") ? node.get("error_code").asInt(-1) : -1;
        String message = node != null && node.has("message") ? node.get("message").asText() : abbreviate(response.body());
        throw new SchemaRegistryException("Schema registry " + base + ": " + what + " failed: HTTP " + status
                + ", error_code " + errorCode + ": " + message, status, errorCode, null);
    }

    private void backOff(int attempt, String what, SchemaRegistryException cause) {
        long millis = Math.min(config.retryBackoffMax().toMillis(), config.retryBackoff().toMillis() << Math.min(attempt - 1, 20));
        LOG.warn("Retrying ({} of {}) in {} ms: {}", attempt, config.retries(), millis, cause.getMessage());
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException("Interrupted while waiting to retry " + what, -1, -1, cause);
        }
    }

    private static String abbreviate(String text) {
        if (text == null) {
            return "";
        }
        return text.length() <= 300 ? text : text.substring(0, 300) + "...";
    }
}
