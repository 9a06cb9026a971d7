package dev.mgmstream.pipeline.stage;

import dev.mgmstream.schemas.avro.Rejection;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.serialization.Serializer;

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

    /**
     * The typed {@code Rejection} of the stages' dead-letter topics, original key and value kept.
     *
     * @param keyIsTaskId the input topic is keyed by task id, which is then copied into {@code task_id}
     */
    static DeadLetterEncoder avro(Serializer<Rejection> serializer, boolean keyIsTaskId) {
        return (topic, r) -> serializer.serialize(topic, Rejection.newBuilder()
                .setSourceTopic(r.sourceTopic())
                .setPartition(r.partition())
                .setOffset(r.offset())
                .setKey(r.key() == null ? null : ByteBuffer.wrap(r.key()))
                .setValue(r.value() == null ? null : ByteBuffer.wrap(r.value()))
                .setErrorClass(r.errorClass())
                .setErrorMessage(r.errorMessage())
                .setStage(r.stage())
                .setTime(r.time())
                .setAttempt(r.attempt())
                .setTaskId(keyIsTaskId && r.key() != null ? new String(r.key(), StandardCharsets.UTF_8) : null)
                .build());
    }

    byte[] encode(String deadLetterTopic, RejectedRecord rejected);
}
