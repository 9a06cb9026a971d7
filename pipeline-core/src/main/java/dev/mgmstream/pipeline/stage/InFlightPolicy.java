package dev.mgmstream.pipeline.stage;

import java.util.Locale;

/** What happens to a batch that is computing when its partitions are revoked or the stage stops. */
public enum InFlightPolicy {
    /** Wait for it (up to the batch timeout) and commit its outputs with its offsets. */
    COMMIT,
    /** Forget it; its inputs are read again by whoever owns the partitions next. */
    DROP;

    static InFlightPolicy parse(String key, String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + " must be 'commit' or 'drop', was '" + value + "'", e);
        }
    }
}
