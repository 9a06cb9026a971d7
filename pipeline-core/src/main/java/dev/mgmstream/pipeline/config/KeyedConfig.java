package dev.mgmstream.pipeline.config;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A stage's own configuration: its documented keys with their defaults under the values given, and
 * typed readers that name the key in every error. The stages' config classes extend it with views
 * of their own (engine options, limits, folders).
 */
public abstract class KeyedConfig {

    private final Map<String, String> values;

    protected KeyedConfig(List<ConfigKey> keys, Map<String, String> config) {
        Map<String, String> v = new HashMap<>();
        keys.forEach(k -> v.put(k.name(), k.defaultValue()));
        config.forEach((k, val) -> {
            if (val != null) {
                v.put(k, val);
            }
        });
        this.values = Map.copyOf(v);
    }

    /** The value, trimmed. */
    public String text(ConfigKey key) {
        return values.get(key.name()).trim();
    }

    /** The value as given, untrimmed (for values where spaces matter, such as prompts). */
    public String raw(ConfigKey key) {
        return values.get(key.name());
    }

    public long number(ConfigKey key) {
        try {
            return Long.parseLong(text(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key.name() + " must be a whole number, was '" + text(key) + "'", e);
        }
    }

    public boolean flag(ConfigKey key) {
        String t = text(key);
        if (!t.equalsIgnoreCase("true") && !t.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException(key.name() + " must be true or false, was '" + t + "'");
        }
        return Boolean.parseBoolean(t);
    }

    /** A comma-separated list, blanks dropped. */
    public List<String> list(ConfigKey key) {
        return Arrays.stream(text(key).split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    public Duration millis(ConfigKey key) {
        return Duration.ofMillis(number(key));
    }

    /** The configuration as given, for the parts of the stage configured elsewhere (catalogue, registry, Kafka). */
    public Map<String, String> all() {
        return values;
    }
}
