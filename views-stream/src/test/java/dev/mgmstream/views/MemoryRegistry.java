package dev.mgmstream.views;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import dev.mgmstream.schemas.registry.RegisteredSchema;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryException;
import org.apache.avro.Schema;

/** A schema registry in a map, for topology tests that run without a broker. */
final class MemoryRegistry implements SchemaRegistryClient {

    private final List<Schema> byId = new ArrayList<>();
    private final Map<String, List<Integer>> subjects = new LinkedHashMap<>();

    @Override
    public synchronized int register(String subject, Schema schema) {
        int id = byId.indexOf(schema);
        if (id < 0) {
            byId.add(schema);
            id = byId.size() - 1;
        }
        List<Integer> versions = subjects.computeIfAbsent(subject, s -> new ArrayList<>());
        if (!versions.contains(id)) {
            versions.add(id);
        }
        return id;
    }

    @Override
    public synchronized int idOf(String subject, Schema schema) {
        int id = byId.indexOf(schema);
        if (id < 0 || !subjects.getOrDefault(subject, List.of()).contains(id)) {
            throw new SchemaRegistryException("not registered under " + subject, 404, 40403, null);
        }
        return id;
    }

    @Override
    public synchronized Schema schemaById(int id) {
        return byId.get(id);
    }

    @Override
    public synchronized RegisteredSchema latest(String subject) {
        List<Integer> versions = subjects.get(subject);
        int id = versions.get(versions.size() - 1);
        return new RegisteredSchema(subject, versions.size(), id, byId.get(id));
    }

    @Override
    public boolean isCompatible(String subject, Schema schema) {
        return true;
    }

    @Override
    public synchronized List<String> subjects() {
        return List.copyOf(subjects.keySet());
    }

    @Override
    public void updateCompatibility(String subject, CompatibilityLevel level) {
    }

    @Override
    public void updateGlobalCompatibility(CompatibilityLevel level) {
    }

    @Override
    public void close() {
    }
}
