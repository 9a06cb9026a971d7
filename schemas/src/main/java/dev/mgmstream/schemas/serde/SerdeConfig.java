package dev.mgmstream.schemas.serde;

import java.util.Map;

/** Serde settings besides the registry connection. Key names follow Confluent's serializers. */
public record SerdeConfig(boolean autoRegister) {
    public static final String AUTO_REGISTER_SCHEMAS = "auto.register.schemas";
    /** Class of the generated record a value deserializer builds; without it, values are read as GenericRecord. */
    public static final String SPECIFIC_VALUE_TYPE = "specific.avro.value.type";
    public static final String SPECIFIC_KEY_TYPE = "specific.avro.key.type";

    public static SerdeConfig defaults() {
        return new SerdeConfig(true);
    }

    public static SerdeConfig fromMap(Map<String, ?> config) {
        Object raw = config.get(AUTO_REGISTER_SCHEMAS);
        if (raw == null) {
            return defaults();
        }
        String text = raw.toString().trim();
        if (!text.equalsIgnoreCase("true") && !text.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException(AUTO_REGISTER_SCHEMAS + " must be true or false, was '" + raw + "'");
        }
        return new SerdeConfig(Boolean.parseBoolean(text));
    }
}
