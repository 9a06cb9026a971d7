package dev.mgmstream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.serde.AvroSerde;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.serde.SerdeConfig;
import java.time.Duration;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;

/**
 * The same client against a real, independent registry: Apicurio Registry through its Confluent-compatible
 * (ccompat) API. Skipped, not failed, where there is no Docker engine.
 */
@Testcontainers(disabledWithoutDocker = true)
class ContainerRegistryClientTest {
    private static final String CCOMPAT = "/apis/ccompat/v7";

    @Container
    static final GenericContainer<?> REGISTRY = new GenericContainer<>(DockerImageName.parse("apicurio/apicurio-registry:3.3.0"))
            .withExposedPorts(8080)
            .waitingFor(Wait.forHttp(CCOMPAT + "/subjects").forStatusCode(200).withStartupTimeout(Duration.ofMinutes(3)));

    private static SchemaRegistryClient client;

    @BeforeAll
    static void connect() {
        client = HttpSchemaRegistryClient.fromConfig(Map.of("schema.registry.url",
                "http://" + REGISTRY.getHost() + ":" + REGISTRY.getMappedPort(8080) + CCOMPAT));
    }

    @AfterAll
    static void disconnect() {
        client.close();
    }

    private static Schema v1() {
        return SchemaBuilder.record("Order").namespace("it").fields().requiredString("id").endRecord();
    }

    @Test
    void registersFetchesAndFindsTheSameIdAgain() {
        int id = client.register("orders-value", v1());

        assertThat(client.register("orders-value", v1())).isEqualTo(id);
        assertThat(client.schemaById(id)).isEqualTo(v1());
        assertThat(client.idOf("orders-value", v1())).isEqualTo(id);
        assertThat(client.latest("orders-value").id()).isEqualTo(id);
        assertThat(client.subjects()).contains("orders-value");
    }

    @Test
    void refusesAnIncompatibleSchemaWith409() {
        client.register("strict-value", v1());
        client.updateCompatibility("strict-value", CompatibilityLevel.BACKWARD);
        Schema withRequiredField = SchemaBuilder.record("Order").namespace("it").fields()
                .requiredString("id").requiredInt("quantity").endRecord();

        assertThat(client.isCompatible("strict-value", withRequiredField)).isFalse();
        assertThatThrownBy(() -> client.register("strict-value", withRequiredField))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> assertThat(e.httpStatus()).isEqualTo(409))
                .hasMessageContaining("strict-value");
    }

    @Test
    void reportsAnUnknownIdByNumber() {
        assertThatThrownBy(() -> client.schemaById(987_654))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> assertThat(e.httpStatus()).isEqualTo(404))
                .hasMessageContaining("987654");
    }

    @Test
    void serdeRoundTripsThroughTheRegistry() {
        Answer answer = Answer.newBuilder().setTaskId("t-1").setStatus(AnswerStatus.OK).setText("a cat").build();
        try (AvroSerde<Answer> serde = AvroSerdes.valueSerde(Answer.class, client, SerdeConfig.defaults())) {
            byte[] bytes = serde.serializer().serialize("mgm.answers", answer);

            assertThat(serde.deserializer().deserialize("mgm.answers", bytes)).isEqualTo(answer);
            assertThat(client.latest("mgm.answers-value").schema()).isEqualTo(Answer.getClassSchema());
        }
    }
}
