package dev.mgmstream.schemas.serde;

import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.RegisteredSchema;
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
    private final Map<SubjectAndSchema, Writing> ids = new ConcurrentHashMap<>();
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
        Writing w = writing(topic, schema);
        int id = w.id();
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(256);
            out.write(new byte[] {WireFormat.MAGIC_BYTE, (byte) (id >>> 24), (byte) (id >>> 16), (byte) (id >>> 8), (byte) id});
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            IndexedRecord written = w.schema().equals(schema) ? data : projected(data, w.schema());
            writers.computeIfAbsent(w.schema(), s -> writerFor(s, written)).write(written, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException | AvroRuntimeException | ClassCastException | NullPointerException e) {
            throw new SerializationException("Could not write a " + schema.getFullName() + " to topic '" + topic
                    + "' with schema id " + id + ": " + e, e);
        }
    }

    /** The schema a record is written with and its id: its own, or with use.latest.version the subject's latest. */
    private record Writing(int id, Schema schema) {
    }

    private Writing writing(String topic, Schema schema) {
        String subject = config.strategy(isKey).subject(topic, isKey, schema);
        SubjectAndSchema key = new SubjectAndSchema(subject, schema);
        Writing cached = ids.get(key);
        if (cached != null) {
            return cached;
        }
        try {
            Writing w;
            if (config.useLatestVersion()) {
                RegisteredSchema latest = registry.latest(subject);
                w = new Writing(latest.id(), latest.schema());
            } else {
                w = new Writing(config.autoRegister() ? registry.register(subject, schema) : registry.idOf(subject, schema),
                        schema);
            }
            ids.put(key, w);
            return w;
        } catch (SchemaRegistryException e) {
            throw new SerializationException("Could not " + (config.useLatestVersion() ? "fetch the latest schema"
                    : config.autoRegister() ? "register the schema " + schema.getFullName()
                    : "look up the schema " + schema.getFullName()) + " for topic '" + topic + "' under subject '"
                    + subject + "': " + e.getMessage(), e);
        }
    }

    /**
     * The record as the latest schema sees it, field by field by name: a field the latest schema added takes
     * its default, one it dropped is left out. Records only: the pipeline's topics carry one record type.
     */
    private static IndexedRecord projected(IndexedRecord data, Schema target) {
        if (data.getSchema().equals(target)) {
            return data;
        }
        GenericData.Record out = new GenericData.Record(target);
        for (Schema.Field f : target.getFields()) {
            Schema.Field source = data.getSchema().getField(f.name());
            if (source != null) {
                out.put(f.pos(), GenericData.get().deepCopy(source.schema(), data.get(source.pos())));
            } else if (f.hasDefaultValue()) {
                out.put(f.pos(), GenericData.get().deepCopy(f.schema(), GenericData.get().getDefaultValue(f)));
            } else {
                throw new SerializationException("The latest schema " + target.getFullName() + " has a field '"
                        + f.name() + "' without a default that the record does not have");
            }
        }
        return out;
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
