package dev.mgmstream.cli;

import java.util.List;
import java.util.Objects;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import dev.mgmstream.schemas.registry.RegisteredSchema;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import org.apache.avro.Schema;

/**
 * A registry client handed to the stages before the embedded registry exists, so that they can load
 * their models while the broker starts; it forwards to the real client once {@link #target} is set.
 * Stages talk to the registry only when they serialize or deserialize, which is after that.
 */
final class PendingRegistryClient implements SchemaRegistryClient {

    private volatile SchemaRegistryClient target;

    void target(SchemaRegistryClient client) {
        this.target = Objects.requireNonNull(client);
    }

    private SchemaRegistryClient target() {
        SchemaRegistryClient t = target;
        if (t == null) {
            throw new IllegalStateException("the embedded schema registry has not started yet");
        }
        return t;
    }

    @Override
    public int register(String subject, Schema schema) {
        return target().register(subject, schema);
    }

    @Override
    public int idOf(String subject, Schema schema) {
        return target().idOf(subject, schema);
    }

    @Override
    public Schema schemaById(int id) {
        return target().schemaById(id);
    }

    @Override
    public RegisteredSchema latest(String subject) {
        return target().latest(subject);
    }

    @Override
    public boolean isCompatible(String subject, Schema schema) {
        return target().isCompatible(subject, schema);
    }

    @Override
    public List<String> subjects() {
        return target().subjects();
    }

    @Override
    public void updateCompatibility(String subject, CompatibilityLevel level) {
        target().updateCompatibility(subject, level);
    }

    @Override
    public void updateGlobalCompatibility(CompatibilityLevel level) {
        target().updateGlobalCompatibility(level);
    }

    @Override
    public void close() {
        SchemaRegistryClient t = target;
        if (t != null) {
            t.close();
        }
    }
}
