package dev.mgmstream.devkit.registry;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of the in-process registry; keys are documented in docs/configuration.md.
 *
 * @param port 0 picks a free port
 * @param storeTimeout how long one read or write of the schemas topic may take before the request fails
 */
public record RegistryServerConfig(
        String bootstrapServers,
        String host,
        int port,
        String topic,
        short replicationFactor,
        CompatibilityLevel defaultCompatibility,
        Duration storeTimeout) {

    public static final String BOOTSTRAP_SERVERS = "bootstrap.servers";
    public static final String HOST = "registry.host";
    public static final String PORT = "registry.port";
    public static final String TOPIC = "registry.topic";
    public static final String REPLICATION_FACTOR = "registry.topic.replication.factor";
    public static final String COMPATIBILITY = "registry.compatibility";
    public static final String STORE_TIMEOUT_MS = "registry.store.timeout.ms";

    public static final int DEFAULT_PORT = 8081;
    public static final String DEFAULT_TOPIC = "_schemas";

    public RegistryServerConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(defaultCompatibility, "defaultCompatibility");
        Objects.requireNonNull(storeTimeout, "storeTimeout");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(PORT + " must be between 0 and 65535, was " + port);
        }
    }

    /** Defaults for everything but the broker and the port. */
    public static RegistryServerConfig of(String bootstrapServers, int port) {
        return new RegistryServerConfig(bootstrapServers, "127.0.0.1", port, DEFAULT_TOPIC, (short) 1,
                CompatibilityLevel.BACKWARD, Duration.ofSeconds(30));
    }

    public RegistryServerConfig withTopic(String schemasTopic) {
        return new RegistryServerConfig(bootstrapServers, host, port, schemasTopic, replicationFactor,
                defaultCompatibility, storeTimeout);
    }

    public static RegistryServerConfig fromMap(Map<String, String> config) {
        String bootstrap = config.get(BOOTSTRAP_SERVERS);
        if (bootstrap == null || bootstrap.isBlank()) {
            throw new IllegalArgumentException("Missing configuration key " + BOOTSTRAP_SERVERS
                    + ": the in-process registry stores its schemas in Kafka");
        }
        try {
            return new RegistryServerConfig(
                    bootstrap.trim(),
                    config.getOrDefault(HOST, "127.0.0.1").trim(),
                    Integer.parseInt(config.getOrDefault(PORT, Integer.toString(DEFAULT_PORT)).trim()),
                    config.getOrDefault(TOPIC, DEFAULT_TOPIC).trim(),
                    Short.parseShort(config.getOrDefault(REPLICATION_FACTOR, "1").trim()),
                    CompatibilityLevel.parse(config.getOrDefault(COMPATIBILITY, "BACKWARD")),
                    Duration.ofMillis(Long.parseLong(config.getOrDefault(STORE_TIMEOUT_MS, "30000").trim())));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("A registry.* setting is not a whole number: " + e.getMessage(), e);
        }
    }
}
