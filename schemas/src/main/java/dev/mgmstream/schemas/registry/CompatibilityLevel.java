package dev.mgmstream.schemas.registry;

import java.util.Locale;

/**
 * Schema Registry compatibility levels. BACKWARD: a reader with the new schema reads data written with
 * the previous one. FORWARD: a reader with the previous schema reads data written with the new one.
 * FULL: both. The _TRANSITIVE forms check against every earlier version, not only the latest.
 */
public enum CompatibilityLevel {
    NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE;

    public boolean checksBackward() {
        return this == BACKWARD || this == BACKWARD_TRANSITIVE || this == FULL || this == FULL_TRANSITIVE;
    }

    public boolean checksForward() {
        return this == FORWARD || this == FORWARD_TRANSITIVE || this == FULL || this == FULL_TRANSITIVE;
    }

    public boolean transitive() {
        return name().endsWith("_TRANSITIVE");
    }

    /** Parses a level as the REST API spells it; throws IllegalArgumentException naming the bad value. */
    public static CompatibilityLevel parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("Invalid compatibility level '" + text + "'", e);
        }
    }
}
