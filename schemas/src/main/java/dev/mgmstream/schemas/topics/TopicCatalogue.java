package dev.mgmstream.schemas.topics;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Names every topic of the pipeline. Immutable: built once from configuration, then only read, so
 * that every stage of one deployment agrees on the same names and settings.
 *
 * <p>Configuration keys (all optional, see docs/configuration.md): {@code topics.prefix},
 * {@code topics.partitions}, {@code topics.replication.factor}, {@code topics.max.message.bytes},
 * {@code topics.retention.ms}, and per topic {@code topics.<base-name>.partitions},
 * {@code topics.<base-name>.max.message.bytes}, {@code topics.<base-name>.retention.ms}, where the base
 * name may also be written with dots for hyphens ({@code topics.image.tasks.partitions}).
 */
public final class TopicCatalogue {

    public static final String PREFIX = "topics.prefix";
    public static final String PARTITIONS = "topics.partitions";
    public static final String REPLICATION_FACTOR = "topics.replication.factor";
    public static final String MAX_MESSAGE_BYTES = "topics.max.message.bytes";
    public static final String RETENTION_MS = "topics.retention.ms";

    public static final String DEFAULT_PREFIX = "mgm.";
    public static final int DEFAULT_PARTITIONS = 3;
    public static final short DEFAULT_REPLICATION_FACTOR = 1;
    /** Room for inline images and visual-token tensors; the broker's own default (1 MiB) is too small. */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
    public static final long DEFAULT_RETENTION_MS = 7L * 24 * 60 * 60 * 1000;

    /** The per-topic settings a key {@code topics.<base-name>.<setting>} may name. */
    private static final List<String> PER_TOPIC_SETTINGS = List.of("partitions", "max.message.bytes", "retention.ms");
    private static final Pattern LEGAL_NAME = Pattern.compile("[a-zA-Z0-9._-]*");
    private static final int MAX_TOPIC_NAME_LENGTH = 249;

    private final String prefix;
    private final Map<TopicRole, TopicSpec> specs;

    private TopicCatalogue(String prefix, Map<TopicRole, TopicSpec> specs) {
        this.prefix = prefix;
        this.specs = specs;
    }

    public static TopicCatalogue defaults() {
        return fromConfig(Map.of());
    }

    public static TopicCatalogue fromProperties(Properties properties) {
        Map<String, String> map = new HashMap<>();
        properties.stringPropertyNames().forEach(k -> map.put(k, properties.getProperty(k)));
        return fromConfig(map);
    }

    public static TopicCatalogue fromConfig(Map<String, String> config) {
        rejectPerTopicKeysForUnknownTopics(config);
        Settings settings = new Settings(config);
        String prefix = config.getOrDefault(PREFIX, DEFAULT_PREFIX).trim();
        Map<TopicRole, TopicSpec> specs = new EnumMap<>(TopicRole.class);
        for (TopicRole role : TopicRole.values()) {
            specs.put(role, spec(role, prefix, settings));
        }
        return new TopicCatalogue(prefix, specs);
    }

    private static TopicSpec spec(TopicRole role, String prefix, Settings settings) {
        String name = prefix + role.baseName();
        if (!LEGAL_NAME.matcher(name).matches() || name.length() > MAX_TOPIC_NAME_LENGTH) {
            throw new IllegalArgumentException("Topic name '" + name + "' (from " + PREFIX + "='" + prefix
                    + "') is not a legal Kafka topic name: use letters, digits, '.', '_' and '-', at most 249 characters");
        }
        Map<String, String> configs = new HashMap<>();
        int maxMessageBytes = settings.intValue(role, "max.message.bytes", MAX_MESSAGE_BYTES, DEFAULT_MAX_MESSAGE_BYTES);
        if (maxMessageBytes < 1) {
            throw new IllegalArgumentException("Topic " + name + ": max.message.bytes must be positive, was " + maxMessageBytes);
        }
        configs.put("max.message.bytes", Integer.toString(maxMessageBytes));
        if (role.compacted()) {
            // A cache keeps the latest value per key for as long as the key exists; time-based deletion would
            // silently empty it.
            configs.put("cleanup.policy", "compact");
        } else {
            configs.put("cleanup.policy", "delete");
            configs.put("retention.ms", Long.toString(
                    settings.longValue(role, "retention.ms", RETENTION_MS, DEFAULT_RETENTION_MS)));
        }
        int partitions = settings.intValue(role, "partitions", PARTITIONS, DEFAULT_PARTITIONS);
        short replication = (short) settings.intValue(null, null, REPLICATION_FACTOR, DEFAULT_REPLICATION_FACTOR);
        return new TopicSpec(role, name, partitions, replication, String.class, role.valueType(), configs);
    }

    /** A typo in a topic's base name would otherwise silently leave that topic at its defaults. */
    private static void rejectPerTopicKeysForUnknownTopics(Map<String, String> config) {
        for (String key : config.keySet()) {
            for (String setting : PER_TOPIC_SETTINGS) {
                String suffix = "." + setting;
                if (!key.startsWith("topics.") || !key.endsWith(suffix)
                        || key.length() <= "topics.".length() + suffix.length()) {
                    continue;
                }
                String base = key.substring("topics.".length(), key.length() - suffix.length());
                if (TopicRole.ofConfigName(base).isEmpty()) {
                    throw new IllegalArgumentException("Unknown topic '" + base + "' in configuration key '" + key
                            + "'; known topics: " + baseNames());
                }
            }
        }
    }

    private static List<String> baseNames() {
        List<String> names = new ArrayList<>();
        for (TopicRole role : TopicRole.values()) {
            names.add(role.baseName());
        }
        return names;
    }

    public String prefix() {
        return prefix;
    }

    public TopicSpec spec(TopicRole role) {
        return specs.get(role);
    }

    public String name(TopicRole role) {
        return specs.get(role).name();
    }

    /** Every topic, in {@link TopicRole} order, for provisioning. */
    public List<TopicSpec> all() {
        return List.copyOf(specs.values());
    }

    /** The topic with this full (prefixed) name, if the catalogue has one. */
    public Optional<TopicSpec> byName(String topicName) {
        return specs.values().stream().filter(s -> s.name().equals(topicName)).findFirst();
    }

    @Override
    public String toString() {
        return "TopicCatalogue" + all();
    }
}
