package dev.mgmstream.devkit.registry;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.avro.Schema;

/**
 * What the schemas topic says, held in memory. Applying an entry twice changes nothing, so a registry may
 * re-read its own writes when it catches up with the topic.
 */
final class RegistryState {
    private final Map<Integer, Schema> schemasById = new HashMap<>();
    private final Map<String, Integer> idsByCanonical = new HashMap<>();
    private final Map<String, TreeMap<Integer, LogEntry.SchemaVersion>> subjects = new TreeMap<>();
    private final Map<String, CompatibilityLevel> subjectLevels = new HashMap<>();
    private CompatibilityLevel globalLevel;
    private int maxId;

    RegistryState(CompatibilityLevel defaultLevel) {
        this.globalLevel = defaultLevel;
    }

    void apply(LogEntry entry) {
        if (entry instanceof LogEntry.SchemaVersion v) {
            schemasById.computeIfAbsent(v.id(), id -> new Schema.Parser().parse(v.schema()));
            idsByCanonical.putIfAbsent(v.schema(), v.id());
            subjects.computeIfAbsent(v.subject(), s -> new TreeMap<>()).put(v.version(), v);
            maxId = Math.max(maxId, v.id());
        } else if (entry instanceof LogEntry.Compatibility c) {
            if (c.subject() == null) {
                globalLevel = c.level();
            } else {
                subjectLevels.put(c.subject(), c.level());
            }
        }
    }

    Optional<Schema> schema(int id) {
        return Optional.ofNullable(schemasById.get(id));
    }

    /** The global id already given to this exact schema text under any subject. */
    Optional<Integer> idOf(String canonicalSchema) {
        return Optional.ofNullable(idsByCanonical.get(canonicalSchema));
    }

    int nextId() {
        return maxId + 1;
    }

    boolean hasSubject(String subject) {
        return subjects.containsKey(subject);
    }

    List<String> subjects() {
        return List.copyOf(subjects.keySet());
    }

    /** Versions of the subject, oldest first; empty when the subject does not exist. */
    List<LogEntry.SchemaVersion> versions(String subject) {
        TreeMap<Integer, LogEntry.SchemaVersion> versions = subjects.get(subject);
        return versions == null ? List.of() : new ArrayList<>(versions.values());
    }

    CompatibilityLevel globalLevel() {
        return globalLevel;
    }

    Optional<CompatibilityLevel> subjectLevel(String subject) {
        return Optional.ofNullable(subjectLevels.get(subject));
    }

    CompatibilityLevel effectiveLevel(String subject) {
        return subjectLevel(subject).orElse(globalLevel);
    }
}
