package dev.mgmstream.cli;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Where a running deployment is: the brokers and the schema registry. A flag wins over the configuration
 * (file, {@code MGM_BOOTSTRAP_SERVERS}, {@code MGM_SCHEMA_REGISTRY_URL}), which wins over the default, so a
 * container can be configured by its environment alone.
 */
final class Connection {

    static final String DEFAULT_REGISTRY = "http://localhost:8081";

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Kafka brokers, e.g. localhost:9092 (as printed by 'mgm kafka'); or bootstrap.servers "
                    + "in the configuration (MGM_BOOTSTRAP_SERVERS).")
    String bootstrapServers;

    @Option(names = "--schema-registry", paramLabel = "URL",
            description = "Schema registry speaking the Confluent REST API; or schema.registry.url in the "
                    + "configuration (MGM_SCHEMA_REGISTRY_URL); default " + DEFAULT_REGISTRY + ".")
    String schemaRegistry;

    Map<String, String> flags() {
        Map<String, String> m = new LinkedHashMap<>();
        if (bootstrapServers != null) {
            m.put("bootstrap.servers", bootstrapServers);
        }
        if (schemaRegistry != null) {
            m.put("schema.registry.url", schemaRegistry);
        }
        return m;
    }

    /** The configuration with these flags on top, the registry defaulted; refuses a missing broker address. */
    Map<String, String> resolve(ConfigOptions options, picocli.CommandLine.Model.CommandSpec spec) {
        Map<String, String> config = new HashMap<>(options.resolve(flags()));
        String bootstrap = config.get("bootstrap.servers");
        if (bootstrap == null || bootstrap.isBlank()) {
            throw new ParameterException(spec.commandLine(), "Missing the brokers: give --bootstrap-servers HOST:PORT "
                    + "or set bootstrap.servers (MGM_BOOTSTRAP_SERVERS)");
        }
        config.putIfAbsent("schema.registry.url", DEFAULT_REGISTRY);
        return config;
    }
}
