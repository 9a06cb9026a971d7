package dev.mgmstream.devkit.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.util.Optional;

/**
 * JSON keys and values of the schemas topic, shaped like those of Confluent's {@code _schemas}. The key
 * names the fact (which subject version, which config) so that compaction keeps the latest value of each.
 */
final class LogCodec {
    private final ObjectMapper json = new ObjectMapper();

    String key(LogEntry entry) {
        ObjectNode key = json.createObjectNode();
        if (entry instanceof LogEntry.SchemaVersion v) {
            key.put("keytype", "SCHEMA").put("subject", v.subject()).put("version", v.version()).put("magic", 1);
        } else if (entry instanceof LogEntry.Compatibility c) {
            key.put("keytype", "CONFIG").put("subject", c.subject()).put("magic", 0);
        }
        return key.toString();
    }

    String value(LogEntry entry) {
        ObjectNode value = json.createObjectNode();
        if (entry instanceof LogEntry.SchemaVersion v) {
            value.put("subject", v.subject()).put("version", v.version()).put("id", v.id())
                    .put("schema", v.schema()).put("deleted", false);
        } else if (entry instanceof LogEntry.Compatibility c) {
            value.put("compatibilityLevel", c.level().name());
        }
        return value.toString();
    }

    /** The entry a record holds; empty for tombstones and for key types this registry does not use. */
    Optional<LogEntry> decode(String key, String value) {
        if (key == null || value == null) {
            return Optional.empty();
        }
        try {
            JsonNode k = json.readTree(key);
            JsonNode v = json.readTree(value);
            switch (k.path("keytype").asText()) {
                case "SCHEMA":
                    if (v.path("deleted").asBoolean(false)) {
                        return Optional.empty();
                    }
                    return Optional.of(new LogEntry.SchemaVersion(v.get("subject").asText(), v.get("version").asInt(),
                            v.get("id").asInt(), v.get("schema").asText()));
                case "CONFIG":
                    JsonNode subject = k.get("subject");
                    return Optional.of(new LogEntry.Compatibility(subject == null || subject.isNull() ? null : subject.asText(),
                            CompatibilityLevel.parse(v.get("compatibilityLevel").asText())));
                default:
                    return Optional.empty();
            }
        } catch (JsonProcessingException | NullPointerException | IllegalArgumentException e) {
            throw new IllegalStateException("Unreadable record in the schemas topic: key " + key + ", value " + value, e);
        }
    }
}
