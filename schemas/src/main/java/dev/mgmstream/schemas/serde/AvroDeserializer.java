package dev.mgmstream.schemas.serde;

import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryException;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Reads Confluent-framed Avro. The writer's schema comes from the registry by the id in the frame and is
 * resolved against this reader's schema (Avro schema resolution), so fields the reader does not know are
 * skipped and fields the writer did not know take the reader's defaults.
 */
public final class AvroDeserializer<T> implements Deserializer<T> {
    private SchemaRegistryClient registry;
    private boolean ownsRegistry;
    /** Null: read with the writer's own schema, as GenericRecord. */
    private Schema readerSchema;
    private GenericData model;
    private final Map<Integer, DatumReader<T>> readersById = new ConcurrentHashMap<>();

    /** For Kafka to instantiate from {@code value.deserializer}; {@link #configure} does the rest. */
    public AvroDeserializer() {
    }

    private AvroDeserializer(SchemaRegistryClient registry, Schema readerSchema, GenericData model) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.readerSchema = readerSchema;
        this.model = model;
    }

    /** Reads into the generated class {@code type}. */
    public static <T extends SpecificRecord> AvroDeserializer<T> specific(SchemaRegistryClient registry, Class<T> type) {
        SpecificData model = SpecificData.getForClass(type);
        return new AvroDeserializer<>(registry, model.getSchema(type), model);
    }

    /** Reads as GenericRecord shaped by {@code readerSchema}; null means the writer's own schema. */
    public static AvroDeserializer<GenericRecord> generic(SchemaRegistryClient registry, Schema readerSchema) {
        return new AvroDeserializer<>(registry, readerSchema, GenericData.get());
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (registry != null) {
            return;
        }
        registry = HttpSchemaRegistryClient.fromConfig(configs);
        ownsRegistry = true;
        Object type = configs.get(isKey ? SerdeConfig.SPECIFIC_KEY_TYPE : SerdeConfig.SPECIFIC_VALUE_TYPE);
        if (type == null) {
            model = GenericData.get();
            return;
        }
        Class<?> cls = type instanceof Class<?> c ? c : loadClass(type.toString());
        SpecificData specific = SpecificData.getForClass(cls);
        readerSchema = specific.getSchema(cls);
        model = specific;
    }

    private static Class<?> loadClass(String name) {
        try {
            return Class.forName(name.trim(), true, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("Avro record class '" + name + "' not found", e);
        }
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (registry == null) {
            throw new IllegalStateException("AvroDeserializer used before configure() gave it a schema registry");
        }
        int id = WireFormat.schemaId(data, topic);
        DatumReader<T> reader = readerFor(id, topic);
        try {
            BinaryDecoder decoder = DecoderFactory.get()
                    .binaryDecoder(data, WireFormat.HEADER_LENGTH, data.length - WireFormat.HEADER_LENGTH, null);
            return reader.read(null, decoder);
        } catch (IOException | AvroRuntimeException | IndexOutOfBoundsException | ClassCastException e) {
            throw new SerializationException("Could not read a record from topic '" + topic + "' written with schema id "
                    + id + (readerSchema == null ? "" : " as " + readerSchema.getFullName()) + ": " + e, e);
        }
    }

    private DatumReader<T> readerFor(int id, String topic) {
        DatumReader<T> cached = readersById.get(id);
        if (cached != null) {
            return cached;
        }
        Schema writer;
        try {
            writer = registry.schemaById(id);
        } catch (SchemaRegistryException e) {
            throw new SerializationException("Could not fetch the writer schema with id " + id
                    + " for a record from topic '" + topic + "': " + e.getMessage(), e);
        }
        Schema reader = readerSchema == null ? writer : readerSchema;
        DatumReader<T> created = model instanceof SpecificData specific
                ? new SpecificDatumReader<>(writer, reader, specific)
                : new GenericDatumReader<>(writer, reader, model);
        readersById.put(id, created);
        return created;
    }

    @Override
    public void close() {
        if (ownsRegistry) {
            registry.close();
        }
    }
}
