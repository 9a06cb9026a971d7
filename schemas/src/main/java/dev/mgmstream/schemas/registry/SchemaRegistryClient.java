package dev.mgmstream.schemas.registry;

import java.util.List;
import org.apache.avro.Schema;

/**
 * The calls the pipeline makes to a schema registry. Every method throws {@link SchemaRegistryException}
 * naming the subject or id involved. Implementations are thread-safe.
 */
public interface SchemaRegistryClient extends AutoCloseable {

    /** Registers the schema under the subject (or finds it already there) and returns its global id. */
    int register(String subject, Schema schema);

    /** The id of a schema already registered under the subject; error 40401 or 40403 when it is not. */
    int idOf(String subject, Schema schema);

    /** The schema with this global id; error 40403 when there is none. */
    Schema schemaById(int id);

    /** The newest version under the subject; error 40401 when the subject does not exist. */
    RegisteredSchema latest(String subject);

    /** Whether the schema could be registered under the subject without breaking its compatibility level. */
    boolean isCompatible(String subject, Schema schema);

    List<String> subjects();

    /** Sets the compatibility level of one subject. */
    void updateCompatibility(String subject, CompatibilityLevel level);

    /** Sets the registry-wide default compatibility level. */
    void updateGlobalCompatibility(CompatibilityLevel level);

    @Override
    void close();
}
