package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The wire contract itself, in raw HTTP, for what the typed client cannot send: invalid schemas, bad
 * levels, unknown paths, and the exact shape of Confluent's answers.
 */
class RegistryRestApiTest {
    private static final String JSON = "application/vnd.schemaregistry.v1+json";
    private static final String ORDER_V1 =
            "{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}";
    private static final String ORDER_V2_REQUIRED = "{\"type\":\"record\",\"name\":\"Order\",\"fields\":["
            + "{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"qty\",\"type\":\"int\"}]}";

    private static RegistryFixture fixture;
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private record Answer(int status, JsonNode body, String contentType) {
    }

    @BeforeAll
    static void start() {
        fixture = new RegistryFixture();
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    @Test
    void registersAndAnswersInConfluentsShapes() throws Exception {
        Answer registered = call("POST", "/subjects/rest-value/versions", schemaBody(ORDER_V1));
        assertThat(registered.status()).isEqualTo(200);
        assertThat(registered.contentType()).isEqualTo(JSON);
        int id = registered.body().get("id").asInt();

        Answer byId = call("GET", "/schemas/ids/" + id, null);
        assertThat(byId.body().get("schema").asText()).contains("\"name\":\"Order\"");
        Answer latest = call("GET", "/subjects/rest-value/versions/latest", null);
        assertThat(latest.body().get("subject").asText()).isEqualTo("rest-value");
        assertThat(latest.body().get("version").asInt()).isEqualTo(1);
        assertThat(latest.body().get("id").asInt()).isEqualTo(id);
        assertThat(call("GET", "/subjects/rest-value/versions", null).body().toString()).isEqualTo("[1]");
        assertThat(call("GET", "/subjects/rest-value/versions/1", null).body().get("id").asInt()).isEqualTo(id);
    }

    @Test
    void anInvalidSchemaIs422With42201() throws Exception {
        Answer answer = call("POST", "/subjects/bad-value/versions", schemaBody("{\"type\":\"record\",\"name\":\"R\"}"));

        assertThat(answer.status()).isEqualTo(422);
        assertThat(answer.body().get("error_code").asInt()).isEqualTo(42201);
        assertThat(call("POST", "/subjects/bad-value/versions",
                "{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":\"PROTOBUF\"}").body().get("error_code").asInt())
                .isEqualTo(42201);
        assertThat(call("POST", "/subjects/bad-value/versions", "not json").status()).isEqualTo(400);
    }

    @Test
    void anIncompatibleSchemaIs409WithReasonsWhenVerbose() throws Exception {
        call("POST", "/subjects/compat-value/versions", schemaBody(ORDER_V1));

        Answer check = call("POST", "/compatibility/subjects/compat-value/versions/latest?verbose=true",
                schemaBody(ORDER_V2_REQUIRED));
        assertThat(check.body().get("is_compatible").asBoolean()).isFalse();
        assertThat(check.body().get("messages").toString()).contains("qty");

        Answer refused = call("POST", "/subjects/compat-value/versions", schemaBody(ORDER_V2_REQUIRED));
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.body().get("error_code").asInt()).isEqualTo(409);
    }

    @Test
    void compatibilityLevelsAreReadAndSetPerSubjectAndGlobally() throws Exception {
        assertThat(call("GET", "/config", null).body().get("compatibilityLevel").asText()).isEqualTo("BACKWARD");
        Answer unset = call("GET", "/config/levels-value", null);
        assertThat(unset.status()).isEqualTo(404);
        assertThat(unset.body().get("error_code").asInt()).isEqualTo(40408);
        assertThat(call("GET", "/config/levels-value?defaultToGlobal=true", null).body().get("compatibilityLevel").asText())
                .isEqualTo("BACKWARD");

        Answer set = call("PUT", "/config/levels-value", "{\"compatibility\":\"FULL_TRANSITIVE\"}");
        assertThat(set.body().get("compatibility").asText()).isEqualTo("FULL_TRANSITIVE");
        assertThat(call("GET", "/config/levels-value", null).body().get("compatibilityLevel").asText())
                .isEqualTo("FULL_TRANSITIVE");

        Answer bad = call("PUT", "/config", "{\"compatibility\":\"SIDEWAYS\"}");
        assertThat(bad.status()).isEqualTo(422);
        assertThat(bad.body().get("error_code").asInt()).isEqualTo(42203);
    }

    @Test
    void missingThingsAre404WithTheirOwnCodes() throws Exception {
        assertThat(call("GET", "/subjects/none-value/versions/latest", null).body().get("error_code").asInt()).isEqualTo(40401);
        call("POST", "/subjects/one-value/versions", schemaBody(ORDER_V1));
        assertThat(call("GET", "/subjects/one-value/versions/7", null).body().get("error_code").asInt()).isEqualTo(40402);
        assertThat(call("GET", "/subjects/one-value/versions/zero", null).body().get("error_code").asInt()).isEqualTo(42202);
        Answer noSchema = call("GET", "/schemas/ids/999", null);
        assertThat(noSchema.status()).isEqualTo(404);
        assertThat(noSchema.body().get("error_code").asInt()).isEqualTo(40403);
        assertThat(noSchema.body().get("message").asText()).contains("999");
        assertThat(call("DELETE", "/nowhere", null).status()).isEqualTo(404);
    }

    private static String schemaBody(String schema) throws IOException {
        return MAPPER.createObjectNode().put("schema", schema).toString();
    }

    private static Answer call(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(fixture.registry.url() + path))
                .header("Content-Type", JSON)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(response.statusCode(), MAPPER.readTree(response.body()),
                response.headers().firstValue("Content-Type").orElse(""));
    }
}
