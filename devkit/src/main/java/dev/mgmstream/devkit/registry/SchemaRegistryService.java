package dev.mgmstream.devkit.registry;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import dev.mgmstream.schemas.registry.RegistryErrorCodes;
import java.util.List;
import java.util.Optional;
import org.apache.avro.Schema;
import org.apache.avro.AvroRuntimeException;

/**
 * The registry's rules, independent of HTTP. Every change is written to the schemas topic before it is
 * applied or answered, and the topic is read to its end first, so ids stay unique even if another
 * registry wrote in between. Methods are synchronized: registrations are rare and must be serial.
 */
final class SchemaRegistryService implements AutoCloseable {
    private final SchemaLog log;
    private final RegistryState state;

    SchemaRegistryService(SchemaLog log, CompatibilityLevel defaultLevel) {
        this.log = log;
        this.state = new RegistryState(defaultLevel);
        log.catchUp(state::apply);
    }

    synchronized int register(String subject, String schemaText) {
        Schema schema = parse(schemaText);
        String canonical = schema.toString();
        log.catchUp(state::apply);
        List<LogEntry.SchemaVersion> versions = state.versions(subject);
        for (LogEntry.SchemaVersion existing : versions) {
            if (existing.schema().equals(canonical)) {
                return existing.id();
            }
        }
        List<String> problems = CompatibilityRules.problems(schema, schemas(versions), state.effectiveLevel(subject));
        if (!problems.isEmpty()) {
            throw new RegistryError(409, RegistryErrorCodes.INCOMPATIBLE_SCHEMA,
                    "Schema being registered is incompatible with an earlier schema for subject \"" + subject
                            + "\" (" + state.effectiveLevel(subject) + "), details: " + problems);
        }
        int id = state.idOf(canonical).orElseGet(state::nextId);
        int version = versions.isEmpty() ? 1 : versions.get(versions.size() - 1).version() + 1;
        LogEntry.SchemaVersion entry = new LogEntry.SchemaVersion(subject, version, id, canonical);
        log.append(entry);
        state.apply(entry);
        return id;
    }

    /** The version under which this schema is registered in the subject. */
    synchronized LogEntry.SchemaVersion lookup(String subject, String schemaText) {
        String canonical = parse(schemaText).toString();
        List<LogEntry.SchemaVersion> versions = existingVersions(subject);
        return versions.stream().filter(v -> v.schema().equals(canonical)).findFirst()
                .orElseThrow(() -> new RegistryError(404, RegistryErrorCodes.SCHEMA_NOT_FOUND, "Schema not found"));
    }

    synchronized Schema schema(int id) {
        Optional<Schema> schema = state.schema(id);
        if (schema.isEmpty()) {
            // Another registry on the same topic may have assigned it since we last looked.
            log.catchUp(state::apply);
            schema = state.schema(id);
        }
        return schema.orElseThrow(() -> new RegistryError(404, RegistryErrorCodes.SCHEMA_NOT_FOUND,
                "Schema " + id + " not found"));
    }

    synchronized List<String> subjects() {
        return state.subjects();
    }

    synchronized List<LogEntry.SchemaVersion> versions(String subject) {
        return existingVersions(subject);
    }

    /** {@code versionText} is a version number or {@code latest}. */
    synchronized LogEntry.SchemaVersion version(String subject, String versionText) {
        List<LogEntry.SchemaVersion> versions = existingVersions(subject);
        if ("latest".equals(versionText) || "-1".equals(versionText)) {
            return versions.get(versions.size() - 1);
        }
        int wanted = parseVersion(versionText);
        return versions.stream().filter(v -> v.version() == wanted).findFirst()
                .orElseThrow(() -> new RegistryError(404, RegistryErrorCodes.VERSION_NOT_FOUND,
                        "Version " + wanted + " not found for subject '" + subject + "'"));
    }

    /** What would break if the schema followed the given version (or, for latest, the subject's history). */
    synchronized List<String> compatibilityProblems(String subject, String versionText, String schemaText) {
        Schema schema = parse(schemaText);
        CompatibilityLevel level = state.effectiveLevel(subject);
        if ("latest".equals(versionText) || "-1".equals(versionText)) {
            // Nothing registered yet means nothing to break, as Confluent's registry answers.
            return CompatibilityRules.problems(schema, schemas(state.versions(subject)), level);
        }
        Schema against = parse(version(subject, versionText).schema());
        return CompatibilityRules.problems(schema, List.of(against), level);
    }

    synchronized CompatibilityLevel globalLevel() {
        return state.globalLevel();
    }

    synchronized Optional<CompatibilityLevel> subjectLevel(String subject) {
        return state.subjectLevel(subject);
    }

    /** Sets the level of a subject, or the global level when {@code subject} is null. */
    synchronized CompatibilityLevel setLevel(String subject, String levelText) {
        CompatibilityLevel level;
        try {
            level = CompatibilityLevel.parse(levelText);
        } catch (IllegalArgumentException e) {
            throw new RegistryError(422, RegistryErrorCodes.INVALID_COMPATIBILITY_LEVEL,
                    "Invalid compatibility level. Valid values are none, backward, forward, full,"
                            + " backward_transitive, forward_transitive, and full_transitive; got '" + levelText + "'");
        }
        LogEntry.Compatibility entry = new LogEntry.Compatibility(subject, level);
        log.append(entry);
        state.apply(entry);
        return level;
    }

    private List<LogEntry.SchemaVersion> existingVersions(String subject) {
        List<LogEntry.SchemaVersion> versions = state.versions(subject);
        if (versions.isEmpty()) {
            throw new RegistryError(404, RegistryErrorCodes.SUBJECT_NOT_FOUND, "Subject '" + subject + "' not found.");
        }
        return versions;
    }

    private static List<Schema> schemas(List<LogEntry.SchemaVersion> versions) {
        return versions.stream().map(v -> new Schema.Parser().parse(v.schema())).toList();
    }

    private static int parseVersion(String text) {
        try {
            int version = Integer.parseInt(text);
            if (version >= 1) {
                return version;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new RegistryError(422, RegistryErrorCodes.INVALID_VERSION,
                "The specified version '" + text + "' is not a valid version id. Allowed values are between"
                        + " [1, 2^31-1] and the string \"latest\"");
    }

    static Schema parse(String schemaText) {
        if (schemaText == null || schemaText.isBlank()) {
            throw new RegistryError(422, RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: the request has no schema");
        }
        try {
            return new Schema.Parser().parse(schemaText);
        } catch (AvroRuntimeException e) {
            throw new RegistryError(422, RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema " + schemaText
                    + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        log.close();
    }
}
