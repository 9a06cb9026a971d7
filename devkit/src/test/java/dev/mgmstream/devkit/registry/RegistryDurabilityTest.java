package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.schemas.registry.CompatibilityLevel;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryException;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;

/** What a registry answered must still hold after it restarts: its state lives in the topic, not in memory. */
class RegistryDurabilityTest {
    private static final Schema V1 = SchemaBuilder.record("Order").namespace("test").fields()
            .requiredString("id").endRecord();
    private static final Schema V2 = SchemaBuilder.record("Order").namespace("test").fields()
            .requiredString("id").name("note").type().stringType().stringDefault("").endRecord();
    private static final Schema V2_REQUIRED = SchemaBuilder.record("Order").namespace("test").fields()
            .requiredString("id").requiredInt("quantity").endRecord();
    private static final Schema OTHER = SchemaBuilder.record("Other").namespace("test").fields()
            .requiredLong("n").endRecord();

    @Test
    void aNewRegistryOnTheSameTopicServesTheSameIdsVersionsAndSettings() {
        String topic = "_schemas-" + UUID.randomUUID();
        int v1;
        int v2;
        try (InProcessSchemaRegistry first = RegistryFixture.start(topic);
                SchemaRegistryClient client = RegistryFixture.clientFor(first)) {
            v1 = client.register("orders-value", V1);
            v2 = client.register("orders-value", V2);
            client.updateCompatibility("loose-value", CompatibilityLevel.NONE);
            client.register("loose-value", V1);
        }

        try (InProcessSchemaRegistry second = RegistryFixture.start(topic);
                SchemaRegistryClient client = RegistryFixture.clientFor(second)) {
            assertThat(client.schemaById(v1)).isEqualTo(V1);
            assertThat(client.schemaById(v2)).isEqualTo(V2);
            assertThat(client.latest("orders-value").version()).isEqualTo(2);
            assertThat(client.register("orders-value", V1)).isEqualTo(v1);
            // A new schema gets a new id: the restarted registry knows which ids are taken.
            assertThat(client.register("other-value", OTHER)).isEqualTo(Math.max(v1, v2) + 1);
            // The subject's compatibility level came back too.
            assertThat(client.register("loose-value", V2_REQUIRED)).isPositive();
            assertThatThrownBy(() -> client.register("orders-value", V2_REQUIRED))
                    .isInstanceOfSatisfying(SchemaRegistryException.class, e -> assertThat(e.httpStatus()).isEqualTo(409));
        }
    }

    @Test
    void refusesASchemasTopicThatCompactionWouldNotProtect() throws Exception {
        String topic = "_schemas-deleting-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, SharedKafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1)
                    .configs(Map.of("cleanup.policy", "delete")))).all().get();
        }

        assertThatThrownBy(() -> RegistryFixture.start(topic))
                .hasMessageContaining(topic).hasMessageContaining("cleanup.policy=delete");
    }
}
