package dev.mgmstream.cli;

import java.util.LinkedHashMap;
import java.util.Map;

import picocli.CommandLine.Option;

/** Where a running deployment is: the brokers and the schema registry. */
final class Connection {

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", required = true,
            description = "Kafka brokers, e.g. localhost:9092 (as printed by 'mgm kafka').")
    String bootstrapServers;

    @Option(names = "--schema-registry", paramLabel = "URL", defaultValue = "http://localhost:8081",
            description = "Schema registry speaking the Confluent REST API (default: ${DEFAULT-VALUE}).")
    String schemaRegistry;

    Map<String, String> flags() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("bootstrap.servers", bootstrapServers);
        m.put("schema.registry.url", schemaRegistry);
        return m;
    }
}
