package dev.mgmstream.schemas.topics;

import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;

/**
 * One topic as the catalogue defines it. {@code configs} are Kafka topic-level configs
 * (max.message.bytes, retention.ms, cleanup.policy), ready for {@code Admin.createTopics}.
 */
public record TopicSpec(
        TopicRole role,
        String name,
        int partitions,
        short replicationFactor,
        Class<?> keyType,
        Class<? extends SpecificRecord> valueType,
        Map<String, String> configs) {

    public TopicSpec {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(valueType, "valueType");
        if (partitions < 1) {
            throw new IllegalArgumentException("Topic " + name + ": partitions must be at least 1, was " + partitions);
        }
        if (replicationFactor < 1) {
            throw new IllegalArgumentException(
                    "Topic " + name + ": replication factor must be at least 1, was " + replicationFactor);
        }
        configs = Map.copyOf(configs);
    }

    /** Subject of the value schema under the TopicNameStrategy. */
    public String valueSubject() {
        return name + "-value";
    }

    public String config(String key) {
        return configs.get(key);
    }
}
