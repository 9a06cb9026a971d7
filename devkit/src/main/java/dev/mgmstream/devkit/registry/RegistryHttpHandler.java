package dev.mgmstream.devkit.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.mgmstream.schemas.registry.CompatibilityLevel;
import dev.mgmstream.schemas.registry.RegistryErrorCodes;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps the Confluent Schema Registry REST paths onto {@link SchemaRegistryService} and its errors onto
 * Confluent's error bodies ({@code {"error_code": ..., "message": ...}}).
 */
final class RegistryHttpHandler implements HttpHandler {
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final Logger LOG = LoggerFactory.getLogger(RegistryHttpHandler.class);

    private final SchemaRegistryService service;
    private final ObjectMapper json = new ObjectMapper();

    RegistryHttpHandler(SchemaRegistryService service) {
        this.service = service;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            int status = 200;
            JsonNode answer;
            try {
                answer = route(exchange.getRequestMethod(), segments(exchange.getRequestURI().getRawPath()),
                        query(exchange.getRequestURI().getRawQuery()), exchange.getRequestBody());
            } catch (RegistryError e) {
                status = e.httpStatus();
                answer = error(e.errorCode(), e.getMessage());
            } catch (RuntimeException e) {
                LOG.error("Registry request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
                status = 500;
                answer = error(500, "Internal error: " + e);
            }
            byte[] body = json.writeValueAsBytes(answer);
            exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private JsonNode route(String method, List<String> path, Map<String, String> query, InputStream body)
            throws IOException {
        String first = path.isEmpty() ? "" : path.get(0);
        int size = path.size();
        switch (first) {
            case "" -> {
                return json.createObjectNode();
            }
            case "schemas" -> {
                if (size == 3 && path.get(1).equals("ids") && method.equals("GET")) {
                    return json.createObjectNode().put("schema", service.schema(schemaId(path.get(2))).toString());
                }
            }
            case "subjects" -> {
                if (size == 1 && method.equals("GET")) {
                    return strings(service.subjects());
                }
                if (size == 2 && method.equals("POST")) {
                    return versionNode(service.lookup(path.get(1), schemaText(body)));
                }
                if (size == 3 && path.get(2).equals("versions")) {
                    if (method.equals("POST")) {
                        return json.createObjectNode().put("id", service.register(path.get(1), schemaText(body)));
                    }
                    if (method.equals("GET")) {
                        ArrayNode versions = json.createArrayNode();
                        service.versions(path.get(1)).forEach(v -> versions.add(v.version()));
                        return versions;
                    }
                }
                if (size == 4 && path.get(2).equals("versions") && method.equals("GET")) {
                    return versionNode(service.version(path.get(1), path.get(3)));
                }
            }
            case "compatibility" -> {
                if (size == 5 && path.get(1).equals("subjects") && path.get(3).equals("versions") && method.equals("POST")) {
                    List<String> problems = service.compatibilityProblems(path.get(2), path.get(4), schemaText(body));
                    ObjectNode answer = json.createObjectNode().put("is_compatible", problems.isEmpty());
                    if (Boolean.parseBoolean(query.get("verbose"))) {
                        answer.set("messages", strings(problems));
                    }
                    return answer;
                }
            }
            case "config" -> {
                String subject = size == 2 ? path.get(1) : null;
                if (size <= 2 && method.equals("GET")) {
                    return json.createObjectNode().put("compatibilityLevel", level(subject, query).name());
                }
                if (size <= 2 && method.equals("PUT")) {
                    JsonNode request = readJson(body);
                    String wanted = request.path("compatibility").asText(request.path("compatibilityLevel").asText(null));
                    return json.createObjectNode().put("compatibility", service.setLevel(subject, wanted).name());
                }
            }
            default -> {
                // falls through to 404
            }
        }
        throw new RegistryError(404, 404, "HTTP 404 Not Found: " + method + " /" + String.join("/", path));
    }

    private CompatibilityLevel level(String subject, Map<String, String> query) {
        if (subject == null) {
            return service.globalLevel();
        }
        return service.subjectLevel(subject).orElseGet(() -> {
            if (Boolean.parseBoolean(query.get("defaultToGlobal"))) {
                return service.globalLevel();
            }
            throw new RegistryError(404, RegistryErrorCodes.SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
                    "Subject '" + subject + "' does not have subject-level compatibility configured");
        });
    }

    private String schemaText(InputStream body) throws IOException {
        JsonNode request = readJson(body);
        String type = request.path("schemaType").asText("AVRO");
        if (!type.equals("AVRO")) {
            throw new RegistryError(422, RegistryErrorCodes.INVALID_SCHEMA,
                    "Invalid schema: schemaType " + type + " is not supported; this registry holds AVRO schemas only");
        }
        if (request.path("references").size() > 0) {
            throw new RegistryError(422, RegistryErrorCodes.INVALID_SCHEMA,
                    "Invalid schema: schema references are not supported by the in-process registry");
        }
        JsonNode schema = request.get("schema");
        return schema == null || schema.isNull() ? null : schema.asText();
    }

    private JsonNode readJson(InputStream body) throws IOException {
        try {
            JsonNode node = json.readTree(body.readAllBytes());
            return node == null ? json.createObjectNode() : node;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new RegistryError(400, 400, "The request body is not JSON: " + e.getOriginalMessage());
        }
    }

    private ObjectNode versionNode(LogEntry.SchemaVersion version) {
        return json.createObjectNode().put("subject", version.subject()).put("version", version.version())
                .put("id", version.id()).put("schema", version.schema());
    }

    private ArrayNode strings(List<String> values) {
        ArrayNode array = json.createArrayNode();
        values.forEach(array::add);
        return array;
    }

    private ObjectNode error(int errorCode, String message) {
        return json.createObjectNode().put("error_code", errorCode).put("message", message);
    }

    private static int schemaId(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new RegistryError(404, RegistryErrorCodes.SCHEMA_NOT_FOUND,
                    "Schema " + text + " not found");
        }
    }

    /** Path segments, percent-decoded one by one so that an encoded '/' stays inside its subject name. */
    static List<String> segments(String rawPath) {
        List<String> segments = new ArrayList<>();
        for (String raw : rawPath.split("/")) {
            if (!raw.isEmpty()) {
                segments.add(URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8));
            }
        }
        return segments;
    }

    private static Map<String, String> query(String rawQuery) {
        Map<String, String> params = new HashMap<>();
        if (rawQuery == null) {
            return params;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            params.put(key, eq < 0 ? "true" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return params;
    }
}
