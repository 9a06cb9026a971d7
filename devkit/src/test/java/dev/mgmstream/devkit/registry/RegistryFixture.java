package dev.mgmstream.devkit.registry;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import java.util.Map;
import java.util.UUID;

/** A registry on the shared broker with a schemas topic of its own, so that ids start at 1 in every test. */
final class RegistryFixture implements AutoCloseable {
    final String schemasTopic;
    final InProcessSchemaRegistry registry;
    final SchemaRegistryClient client;

    RegistryFixture() {
        this("_schemas-" + UUID.randomUUID());
    }

    RegistryFixture(String schemasTopic) {
        this.schemasTopic = schemasTopic;
        this.registry = start(schemasTopic);
        this.client = clientFor(registry);
    }

    static InProcessSchemaRegistry start(String schemasTopic) {
        return InProcessSchemaRegistry.start(
                RegistryServerConfig.of(SharedKafka.bootstrapServers(), 0).withTopic(schemasTopic));
    }

    static SchemaRegistryClient clientFor(InProcessSchemaRegistry registry) {
        return HttpSchemaRegistryClient.fromConfig(Map.of("schema.registry.url", registry.url()));
    }

    @Override
    public void close() {
        client.close();
        registry.close();
    }
}
