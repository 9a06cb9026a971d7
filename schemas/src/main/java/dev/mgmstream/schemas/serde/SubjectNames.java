package dev.mgmstream.schemas.serde;

/** Confluent's TopicNameStrategy: the schema of a topic's values lives under {@code <topic>-value}. */
public final class SubjectNames {
    private SubjectNames() {
    }

    public static String forTopic(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }
}
