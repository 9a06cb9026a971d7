package dev.mgmstream.pipeline.kafka;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The one reading of the {@code kafka.*} pass-through keys, so that every client the project builds (the
 * stages', the sink's, the visual-token cache's, {@code mgm run}, {@code publish}, {@code results}, topic
 * provisioning) gets the same TLS, SASL and other settings: {@code kafka.X} reaches every client,
 * {@code kafka.consumer.X}, {@code kafka.producer.X} and {@code kafka.admin.X} one kind, and win over it.
 */
public final class KafkaClientConfigs {

    /** The kinds of client a per-kind prefix names. */
    public enum Kind {
        CONSUMER, PRODUCER, ADMIN;

        String prefix() {
            return ALL + name().toLowerCase(Locale.ROOT) + ".";
        }
    }

    public static final String ALL = "kafka.";

    private KafkaClientConfigs() {
    }

    /** The client settings {@code config} gives a client of {@code kind}, prefixes stripped. */
    public static Map<String, Object> passThrough(Map<String, String> config, Kind kind) {
        Map<String, Object> p = new HashMap<>();
        config.forEach((k, v) -> {
            if (k.startsWith(ALL) && !isPerKind(k)) {
                p.put(k.substring(ALL.length()), v);
            }
        });
        String prefix = kind.prefix();
        config.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                p.put(k.substring(prefix.length()), v);
            }
        });
        return p;
    }

    /** {@code bootstrap.servers} and the pass-through settings of {@code kind}: a whole client configuration. */
    public static Map<String, Object> of(String bootstrapServers, Map<String, String> config, Kind kind) {
        Map<String, Object> p = new HashMap<>();
        p.put("bootstrap.servers", bootstrapServers);
        p.putAll(passThrough(config, kind));
        return p;
    }

    /**
     * A Kafka Streams configuration with {@code bootstrap.servers} and the pass-through settings: {@code kafka.X}
     * as {@code X} (Streams hands it to every client it opens), {@code kafka.consumer.X}, {@code kafka.producer.X}
     * and {@code kafka.admin.X} under Streams' own per-client prefixes ({@code consumer.}, which also reaches
     * the restore and global consumers, {@code producer.}, {@code admin.}), which win over the plain ones there.
     */
    public static Map<String, Object> streams(String bootstrapServers, Map<String, String> config) {
        Map<String, Object> p = new HashMap<>();
        p.put("bootstrap.servers", bootstrapServers);
        // Stripping "kafka." leaves the per-kind keys under exactly Streams' prefixes: consumer.X, producer.X, admin.X.
        config.forEach((k, v) -> {
            if (k.startsWith(ALL)) {
                p.put(k.substring(ALL.length()), v);
            }
        });
        return p;
    }

    private static boolean isPerKind(String key) {
        for (Kind k : Kind.values()) {
            if (key.startsWith(k.prefix())) {
                return true;
            }
        }
        return false;
    }
}
