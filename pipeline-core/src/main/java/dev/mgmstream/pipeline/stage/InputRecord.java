package dev.mgmstream.pipeline.stage;

/**
 * One decoded input as the batch function sees it.
 *
 * @param index position in the batch as the runtime formed it; outputs name their input by it, and it
 *              stays the same when the runtime re-runs part of a batch to isolate a failing record
 */
public record InputRecord<K, V>(int index, String topic, int partition, long offset, long timestamp, K key, V value) {
}
