package dev.mgmstream.pipeline.stage;

import java.time.Instant;

/**
 * Everything known about an input that went to the dead-letter topic: where it came from, its
 * untouched bytes (they may not even decode), why, and how often it was tried.
 *
 * @param index the input's position in its batch, for outputs a {@link RejectionHook} emits for it
 */
public record RejectedRecord(int index, String stage, String sourceTopic, int partition, long offset,
                             byte[] key, byte[] value, String errorClass, String errorMessage,
                             Instant time, int attempt) {

    static RejectedRecord of(String stage, RawRecord raw, Throwable reason, Instant time, int attempt) {
        return new RejectedRecord(raw.index(), stage, raw.record().topic(), raw.record().partition(),
                raw.record().offset(), raw.record().key(), raw.record().value(), reason.getClass().getName(),
                reason.getMessage(), time, attempt);
    }
}
