package dev.mgmstream.schemas.serde;

import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Writes Avro records (generated or generic) in the Confluent wire format. On the first record of each
 * topic it registers the record's schema under the topic's subject, or only looks it up when
 * auto-registration is off (so that production writers cannot change a contract by accident), and then
 * reuses the id.
 */
public final class AvroSerializer<T extends IndexedRecord> implements Serializer<T> {
    private SchemaRegistryClient registry;
    private boolean ownsRegistry;
    private SerdeConfig config;
    private boolean isKey;
    private final Map<SubjectAndSchema, Integer> ids = new ConcurrentHashMap<>();
    private final Map<Schema, DatumWriter<Object>> writers = new ConcurrentHashMap<>();

    private record SubjectAndSchema(String subject, Schema schema) {
    }

    /** For Kafka to instantiate from {@code value.serializer}; {@link #configure} then builds the registry client. */
    public AvroSerializer() {
    }

    public AvroSerializer(SchemaRegistryClient registry, SerdeConfig config, boolean isKey) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.config = Objects.requireNonNull(config, "config");
        this.isKey = isKey;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (registry == null) {
            registry = HttpSchemaRegistryClient.fromConfig(configs);
            ownsRegistry = true;
            config = SerdeConfig.fromMap(configs);
            this.isKey = isKey;
        }
    }

    @Override
    public byte[] serialize(String topic, T data) {
        if (data == null) {
            return null;
        }
        if (registry == null) {
            throw new IllegalStateException("AvroSerializer used before configure() gave it a schema registry");
        }
        Schema schema = data.getSchema();
        int id = schemaId(topic, schema);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(256);
            out.write(new byte[] {WireFormat.MAGIC_BYTE, (byte) (id >>> 24), (byte) (id >>> 16), (byte) (id >>> 8), (byte) id});
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            writers.computeIfAbsent(schema, s -> writerFor(s, data)).write(data, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException | AvroRuntimeException | ClassCastException | NullPointerException e) {
            throw new SerializationException("Could not write a " + schema.getFullName() + " to topic '" + topic
                    + "' with schema id " + id + ": " + e, e);
        }
    }

    private int schemaId(String topic, Schema schema) {
        String subject = SubjectNames.forTopic(topic, isKey);
        SubjectAndSchema key = new SubjectAndSchema(subject, schema);
        Integer cached = ids.get(key);
        if (cached != null) {
            return cached;
        }
        try {
            int id = config.autoRegister() ? registry.register(subject, schema) : registry.idOf(subject, schema);
            ids.put(key, id);
            return id;
        } catch (SchemaRegistryException e) {
            throw new SerializationException("Could not " + (config.autoRegister() ? "register" : "look up")
                    + " the schema " + schema.getFullName() + " for topic '" + topic + "' under subject '" + subject
                    + "': " + e.getMessage(), e);
        }
    }

    private static DatumWriter<Object> writerFor(Schema schema, IndexedRecord sample) {
        // A generated class's own model knows its logical-type conversions (Instant for timestamp-millis).
        if (sample instanceof SpecificRecordBase specific) {
            return new SpecificDatumWriter<>(schema, specific.getSpecificData());
        }
        return new GenericDatumWriter<>(schema, GenericData.get());
    }

    @Override
    public void close() {
        if (ownsRegistry) {
            registry.close();
        }
    }
}
