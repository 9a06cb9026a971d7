package dev.mgmstream.schemas.topics;

import java.util.Map;

/** Reads a numeric setting: the per-topic key first, then the catalogue-wide key, then the default. */
final class Settings {
    private final Map<String, String> config;

    Settings(Map<String, String> config) {
        this.config = Map.copyOf(config);
    }

    int intValue(TopicRole role, String setting, String globalKey, int defaultValue) {
        long value = longValue(role, setting, globalKey, defaultValue);
        if (value > Integer.MAX_VALUE || value < Integer.MIN_VALUE) {
            throw new IllegalArgumentException("Configuration value " + value + " for " + keyUsed(role, setting, globalKey)
                    + " does not fit an int");
        }
        return (int) value;
    }

    long longValue(TopicRole role, String setting, String globalKey, long defaultValue) {
        String key = keyUsed(role, setting, globalKey);
        String raw = config.get(key);
        if (raw == null) {
            return defaultValue;
        }
        try {
            return Long.parseLong(raw.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Configuration key " + key + " must be a whole number, was '" + raw + "'", e);
        }
    }

    private String keyUsed(TopicRole role, String setting, String globalKey) {
        if (role != null) {
            for (String name : new String[] {role.baseName(), role.dottedBaseName()}) {
                String perTopic = "topics." + name + "." + setting;
                if (config.containsKey(perTopic)) {
                    return perTopic;
                }
            }
        }
        return globalKey;
    }
}
