package dev.mgmstream.schemas.serde;

import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.topics.TopicSpec;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * Builds value serdes for the catalogue's topics. Typical use in a stage:
 *
 * <pre>{@code
 * SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
 * TopicCatalogue topics = TopicCatalogue.fromConfig(config);
 * AvroSerde<ImageTask> tasks = AvroSerdes.valueSerde(topics.spec(TopicRole.IMAGE_TASKS), ImageTask.class, registry, config);
 * }</pre>
 *
 * The registry client is shared, not owned: closing the serde leaves it open.
 */
public final class AvroSerdes {
    private AvroSerdes() {
    }

    /** A value serde for {@code topic}, after checking that the catalogue gives the topic that value type. */
    public static <T extends SpecificRecordBase> AvroSerde<T> valueSerde(
            TopicSpec topic, Class<T> type, SchemaRegistryClient registry, Map<String, ?> config) {
        if (!topic.valueType().equals(type)) {
            throw new IllegalArgumentException("Topic " + topic.name() + " carries " + topic.valueType().getSimpleName()
                    + " values, not " + type.getSimpleName());
        }
        return valueSerde(type, registry, SerdeConfig.fromMap(config));
    }

    public static <T extends SpecificRecordBase> AvroSerde<T> valueSerde(
            Class<T> type, SchemaRegistryClient registry, SerdeConfig config) {
        return new AvroSerde<>(new AvroSerializer<>(registry, config, false), AvroDeserializer.specific(registry, type));
    }

    /** The value deserializer alone, for consumers. */
    public static <T extends SpecificRecord> AvroDeserializer<T> valueDeserializer(
            Class<T> type, SchemaRegistryClient registry) {
        return AvroDeserializer.specific(registry, type);
    }
}
