package dev.mgmstream.pipeline.stage;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.kafka.common.header.Header;

/**
 * Everything known about an input that went to the dead-letter topic: where it came from, its
 * untouched bytes (they may not even decode), why, and how often it was tried.
 *
 * @param index the input's position in its batch, for outputs a {@link RejectionHook} emits for it
 * @param headers the input's Kafka headers as UTF-8 strings (the last value of a repeated name): what a
 *                hook can still learn about an input whose value does not decode
 */
public record RejectedRecord(int index, String stage, String sourceTopic, int partition, long offset,
                             byte[] key, byte[] value, String errorClass, String errorMessage,
                             Instant time, int attempt, Map<String, String> headers) {

    public RejectedRecord {
        headers = headers == null ? Map.of() : Map.copyOf(headers);
    }

    public RejectedRecord(int index, String stage, String sourceTopic, int partition, long offset, byte[] key,
                          byte[] value, String errorClass, String errorMessage, Instant time, int attempt) {
        this(index, stage, sourceTopic, partition, offset, key, value, errorClass, errorMessage, time, attempt,
                Map.of());
    }

    static RejectedRecord of(String stage, RawRecord raw, Throwable reason, Instant time, int attempt) {
        Map<String, String> headers = new LinkedHashMap<>();
        for (Header h : raw.record().headers()) {
            if (h.value() != null) {
                headers.put(h.key(), new String(h.value(), StandardCharsets.UTF_8));
            }
        }
        return new RejectedRecord(raw.index(), stage, raw.record().topic(), raw.record().partition(),
                raw.record().offset(), raw.record().key(), raw.record().value(), reason.getClass().getName(),
                reason.getMessage(), time, attempt, headers);
    }

    /** The same rejection without the input's value: for an input too large to be copied into a dead letter. */
    RejectedRecord withoutValue() {
        return new RejectedRecord(index, stage, sourceTopic, partition, offset, key, null, errorClass, errorMessage,
                time, attempt, headers);
    }
}
