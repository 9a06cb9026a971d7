package dev.mgmstream.pipeline.stage;

/**
 * Turns a rejection into the value of a dead-letter record. The runtime adds the reason as headers
 * to every dead-letter record in any case, so a plain encoder that keeps the original bytes is
 * already inspectable and replayable; the Avro {@code Rejection} encoder makes it a typed record.
 */
@FunctionalInterface
public interface DeadLetterEncoder {

    /** The original value bytes, unchanged; the reason travels in headers. */
    static DeadLetterEncoder originalBytes() {
        return (topic, rejected) -> rejected.value();
    }

    byte[] encode(String deadLetterTopic, RejectedRecord rejected);
}
