package dev.mgmstream.pipeline.stage;

import java.util.List;

import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * A computed batch, serialized and ready to be written in one transaction with its offsets.
 *
 * @param records   outputs, dead-letter records and rejection outputs, in input order
 * @param outputs   how many of {@code records} are ordinary outputs
 * @param rejected  how many inputs went to the dead-letter topic
 * @param calls     how many times the batch function ran (more than one after a split or retry)
 */
record Prepared(List<ProducerRecord<byte[], byte[]>> records, int outputs, int rejected, int calls) {
}
