package dev.mgmstream.schemas.serde;

import java.util.Locale;
import java.util.Map;

/**
 * Serde settings besides the registry connection. Key names and meanings follow Confluent's serializers,
 * so a producer configured for them behaves the same here:
 *
 * @param autoRegister     {@code auto.register.schemas}: register the writer's schema (default true)
 * @param useLatestVersion {@code use.latest.version}: write with the subject's latest registered schema
 *                         instead of registering the record's own (needs {@code auto.register.schemas=false})
 * @param valueStrategy    {@code value.subject.name.strategy}: where a topic's value schemas live
 * @param keyStrategy      {@code key.subject.name.strategy}: the same for keys
 */
public record SerdeConfig(boolean autoRegister, boolean useLatestVersion, SubjectNames.Strategy valueStrategy,
                          SubjectNames.Strategy keyStrategy) {
    public static final String AUTO_REGISTER_SCHEMAS = "auto.register.schemas";
    public static final String USE_LATEST_VERSION = "use.latest.version";
    public static final String VALUE_SUBJECT_NAME_STRATEGY = "value.subject.name.strategy";
    public static final String KEY_SUBJECT_NAME_STRATEGY = "key.subject.name.strategy";
    /** Class of the generated record a value deserializer builds; without it, values are read as GenericRecord. */
    public static final String SPECIFIC_VALUE_TYPE = "specific.avro.value.type";
    public static final String SPECIFIC_KEY_TYPE = "specific.avro.key.type";

    public SerdeConfig {
        if (autoRegister && useLatestVersion) {
            throw new IllegalArgumentException(USE_LATEST_VERSION + "=true needs " + AUTO_REGISTER_SCHEMAS
                    + "=false: a serializer that registers its own schema has no use for the latest one");
        }
    }

    public SerdeConfig(boolean autoRegister) {
        this(autoRegister, false, SubjectNames.Strategy.TOPIC, SubjectNames.Strategy.TOPIC);
    }

    public static SerdeConfig defaults() {
        return new SerdeConfig(true);
    }

    public static SerdeConfig fromMap(Map<String, ?> config) {
        return new SerdeConfig(bool(config, AUTO_REGISTER_SCHEMAS, true), bool(config, USE_LATEST_VERSION, false),
                SubjectNames.Strategy.parse(VALUE_SUBJECT_NAME_STRATEGY, config.get(VALUE_SUBJECT_NAME_STRATEGY)),
                SubjectNames.Strategy.parse(KEY_SUBJECT_NAME_STRATEGY, config.get(KEY_SUBJECT_NAME_STRATEGY)));
    }

    public SubjectNames.Strategy strategy(boolean isKey) {
        return isKey ? keyStrategy : valueStrategy;
    }

    private static boolean bool(Map<String, ?> config, String key, boolean defaultValue) {
        Object raw = config.get(key);
        if (raw == null) {
            return defaultValue;
        }
        String text = raw.toString().trim().toLowerCase(Locale.ROOT);
        if (!text.equals("true") && !text.equals("false")) {
            throw new IllegalArgumentException(key + " must be true or false, was '" + raw + "'");
        }
        return Boolean.parseBoolean(text);
    }
}
