package dev.mgmstream.devkit.registry;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.util.Objects;

/** One fact the registry keeps in its topic; replaying all of them in order rebuilds its state. */
sealed interface LogEntry {

    /** Version {@code version} of {@code subject} is the schema with global id {@code id}. */
    record SchemaVersion(String subject, int version, int id, String schema) implements LogEntry {
        public SchemaVersion {
            Objects.requireNonNull(subject, "subject");
            Objects.requireNonNull(schema, "schema");
        }
    }

    /** The compatibility level of a subject, or the global one when {@code subject} is null. */
    record Compatibility(String subject, CompatibilityLevel level) implements LogEntry {
        public Compatibility {
            Objects.requireNonNull(level, "level");
        }
    }
}
