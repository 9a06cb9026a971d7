package dev.mgmstream.devkit.registry;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;

/** Decides with Avro's own {@link SchemaCompatibility} whether a new schema may follow earlier ones. */
final class CompatibilityRules {
    private CompatibilityRules() {
    }

    /**
     * What breaks if {@code candidate} follows {@code earlier} (oldest first) under {@code level}; empty when
     * nothing does. Non-transitive levels only compare with the newest earlier schema, as Confluent's do.
     */
    static List<String> problems(Schema candidate, List<Schema> earlier, CompatibilityLevel level) {
        if (level == CompatibilityLevel.NONE || earlier.isEmpty()) {
            return List.of();
        }
        List<Schema> against = level.transitive() ? earlier : List.of(earlier.get(earlier.size() - 1));
        List<String> problems = new ArrayList<>();
        for (Schema previous : against) {
            if (level.checksBackward()) {
                describe("BACKWARD", SchemaCompatibility.checkReaderWriterCompatibility(candidate, previous), problems);
            }
            if (level.checksForward()) {
                describe("FORWARD", SchemaCompatibility.checkReaderWriterCompatibility(previous, candidate), problems);
            }
        }
        return problems;
    }

    private static void describe(String direction, SchemaCompatibility.SchemaPairCompatibility result, List<String> out) {
        if (result.getType() == SchemaCompatibilityType.COMPATIBLE) {
            return;
        }
        for (Incompatibility incompatibility : result.getResult().getIncompatibilities()) {
            out.add(direction + " " + incompatibility.getType() + " at " + incompatibility.getLocation()
                    + ": " + incompatibility.getMessage());
        }
    }
}
