package dev.mgmstream.pipeline.stage;

import org.apache.kafka.clients.consumer.ConsumerRecord;

/** A polled record with its position in the batch being formed. */
record RawRecord(int index, ConsumerRecord<byte[], byte[]> record) {
}
