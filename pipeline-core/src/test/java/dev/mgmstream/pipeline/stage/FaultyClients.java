package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;

/**
 * Real Kafka clients that fail on purpose at one call, as a cluster does on a bad day. Each fault is a
 * counter: the next {@code n} matching calls fail, the rest go through to the real client.
 */
final class FaultyClients implements ClientFactory {

    /** Commits made inside a rebalance's revocation that fail with an abortable error. */
    final AtomicInteger failRevocationCommits = new AtomicInteger();
    /** Commits that land but whose acknowledgement times out, as the client reports a lost response. */
    final AtomicInteger timeOutAfterCommit = new AtomicInteger();
    /** Look-ups of the committed offsets that the coordinator does not answer. */
    final AtomicInteger failCommittedLookups = new AtomicInteger();
    final AtomicInteger faultsInjected = new AtomicInteger();

    @Override
    public Producer<byte[], byte[]> producer(Map<String, Object> config) {
        return new KafkaProducer<>(config) {
            /** The client's contract after a commit timed out: only the same commit again, or close. */
            private boolean mustRetryCommit;

            @Override
            public void commitTransaction() {
                if (mustRetryCommit) {
                    mustRetryCommit = false; // the retried call returns the outcome of the first one
                    return;
                }
                if (inRevocation() && take(failRevocationCommits)) {
                    // left open, as after an abortable error: the stage has to abort it
                    throw new KafkaException("injected: the transaction coordinator refused the commit");
                }
                super.commitTransaction();
                if (take(timeOutAfterCommit)) {
                    mustRetryCommit = true;
                    throw new TimeoutException("injected: commit sent, acknowledgement not received in time");
                }
            }

            @Override
            public void abortTransaction() {
                if (mustRetryCommit) {
                    throw new IllegalStateException("injected, as the client does: the previous commitTransaction "
                            + "timed out and must be retried");
                }
                super.abortTransaction();
            }
        };
    }

    @Override
    public Consumer<byte[], byte[]> consumer(Map<String, Object> config) {
        return new KafkaConsumer<>(config) {
            @Override
            public Map<TopicPartition, OffsetAndMetadata> committed(Set<TopicPartition> partitions, Duration timeout) {
                if (take(failCommittedLookups)) {
                    throw new TimeoutException("injected: the group coordinator did not answer the offset fetch");
                }
                return super.committed(partitions, timeout);
            }
        };
    }

    private boolean take(AtomicInteger fault) {
        if (fault.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            faultsInjected.incrementAndGet();
            return true;
        }
        return false;
    }

    private static boolean inRevocation() {
        return Arrays.stream(new Throwable().getStackTrace())
                .anyMatch(f -> f.getMethodName().equals("onPartitionsRevoked"));
    }
}
