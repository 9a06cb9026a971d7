package dev.mgmstream.pipeline.stage;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * A batch handed to the worker and not yet committed. Its inputs are a prefix of each partition's
 * unread records, so committing {@link #nextOffsets()} covers exactly these inputs.
 */
final class Pending {

    private final List<ConsumerRecord<byte[], byte[]>> records;
    private final Map<TopicPartition, Long> first = new HashMap<>();
    private final Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
    private final long startedNanos;
    final CompletableFuture<Prepared> result = new CompletableFuture<>();
    private Future<?> task;

    Pending(List<ConsumerRecord<byte[], byte[]>> records, long startedNanos) {
        this.records = records;
        this.startedNanos = startedNanos;
        for (ConsumerRecord<byte[], byte[]> r : records) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            first.putIfAbsent(tp, r.offset());
            next.put(tp, new OffsetAndMetadata(r.offset() + 1));
        }
    }

    List<ConsumerRecord<byte[], byte[]>> records() {
        return records;
    }

    Map<TopicPartition, OffsetAndMetadata> nextOffsets() {
        return next;
    }

    /** Where each partition's share of the batch begins: where to read again if it is dropped. */
    Map<TopicPartition, Long> firstOffsets() {
        return first;
    }

    boolean touches(Collection<TopicPartition> partitions) {
        return partitions.stream().anyMatch(first::containsKey);
    }

    long startedNanos() {
        return startedNanos;
    }

    void task(Future<?> submitted) {
        this.task = submitted;
    }

    /** Stops caring about the result; interrupts the computation if asked to and it is still running. */
    void abandon(boolean interrupt) {
        if (task != null) {
            task.cancel(interrupt);
        }
        result.cancel(false);
    }
}
