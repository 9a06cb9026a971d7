package dev.mgmstream.schemas.serde;

import java.util.Locale;

import org.apache.avro.Schema;

/** Where a topic's schemas live in the registry: Confluent's subject name strategies. */
public final class SubjectNames {
    private SubjectNames() {
    }

    /** The three strategies of Confluent's serdes, configured by their class names or short names. */
    public enum Strategy {
        /** {@code <topic>-value}: one record type per topic (the default, and what the pipeline's topics use). */
        TOPIC,
        /** {@code <record full name>}: a record type shared by topics, evolved once. */
        RECORD,
        /** {@code <topic>-<record full name>}: several record types in one topic. */
        TOPIC_RECORD;

        static Strategy parse(String key, Object raw) {
            if (raw == null || raw.toString().isBlank()) {
                return TOPIC;
            }
            String name = raw.toString().trim();
            String simple = name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
            return switch (simple) {
                case "topicnamestrategy", "topic" -> TOPIC;
                case "recordnamestrategy", "record" -> RECORD;
                case "topicrecordnamestrategy", "topic_record" -> TOPIC_RECORD;
                default -> throw new IllegalArgumentException(key + " must be TopicNameStrategy, RecordNameStrategy or "
                        + "TopicRecordNameStrategy (Confluent's class names work too), was '" + name + "'");
            };
        }

        public String subject(String topic, boolean isKey, Schema schema) {
            return switch (this) {
                case TOPIC -> forTopic(topic, isKey);
                case RECORD -> schema.getFullName();
                case TOPIC_RECORD -> topic + "-" + schema.getFullName();
            };
        }
    }

    public static String forTopic(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }
}
