package dev.mgmstream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.Test;

class SchemaRegistryConfigTest {

    @Test
    void readsUrlsTimeoutsAndRetries() {
        SchemaRegistryConfig config = SchemaRegistryConfig.fromMap(Map.of(
                "schema.registry.url", "http://a:8081/, http://b:8081/apis/ccompat/v7",
                "schema.registry.request.timeout.ms", 2500,
                "schema.registry.retries", "0"));

        assertThat(config.urls()).containsExactly(URI.create("http://a:8081"), URI.create("http://b:8081/apis/ccompat/v7"));
        assertThat(config.requestTimeout()).isEqualTo(Duration.ofMillis(2500));
        assertThat(config.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.retries()).isZero();
        assertThat(config.authorization()).isEmpty();
        assertThat(config.tls()).isEmpty();
    }

    @Test
    void credentialsComeAsConfluentsSerdesNameThem() {
        String basic = "Basic " + java.util.Base64.getEncoder().encodeToString("ann:s3cret".getBytes());
        assertThat(SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "https://r:8081",
                "basic.auth.credentials.source", "USER_INFO", "basic.auth.user.info", "ann:s3cret")).authorization())
                .contains(basic);
        assertThat(SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "https://r:8081",
                "schema.registry.basic.auth.user.info", "ann:s3cret")).authorization()).contains(basic);
        SchemaRegistryConfig fromUrl = SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "https://ann:s3cret@r:8081/x",
                "basic.auth.credentials.source", "URL"));
        assertThat(fromUrl.authorization()).contains(basic);
        assertThat(fromUrl.urls()).as("no credentials in the request line").containsExactly(URI.create("https://r:8081/x"));
        assertThat(SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "https://r:8081",
                "basic.auth.credentials.source", "SASL_INHERIT", "kafka.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ann\" password=\"s3cret\";"))
                .authorization()).contains(basic);
        assertThat(SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "https://r:8081",
                "bearer.auth.credentials.source", "STATIC_TOKEN", "bearer.auth.token", "t0k")).authorization())
                .contains("Bearer t0k");
        assertThatThrownBy(() -> SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "https://r:8081",
                "basic.auth.credentials.source", "SOMETHING")))
                .hasMessageContaining("basic.auth.credentials.source");
    }

    @Test
    void aMissingUrlIsNamed() {
        assertThatThrownBy(() -> SchemaRegistryConfig.fromMap(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("schema.registry.url");
        assertThatThrownBy(() -> SchemaRegistryConfig.fromMap(Map.of("schema.registry.url", "http://x", "schema.registry.retries", "often")))
                .hasMessageContaining("schema.registry.retries");
    }

    @Test
    void aRegistryThatDoesNotAnswerIsRetriedThenReportedWithTheSubject() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        SchemaRegistryClient client = HttpSchemaRegistryClient.fromConfig(Map.of(
                "schema.registry.url", "http://127.0.0.1:" + closedPort,
                "schema.registry.retries", "2",
                "schema.registry.retry.backoff.ms", "10"));
        Schema schema = SchemaBuilder.record("R").fields().requiredString("a").endRecord();

        assertThatThrownBy(() -> client.register("orders-value", schema))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(-1);
                    assertThat(e.retriable()).isTrue();
                })
                .hasMessageContaining("subject 'orders-value'")
                .hasMessageContaining("no answer");
    }
}
