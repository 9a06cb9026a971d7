package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The resources of one stage run: its consumer, its transactional producer, its worker thread. */
final class Clients implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Clients.class);

    final KafkaProducer<byte[], byte[]> producer;
    final KafkaConsumer<byte[], byte[]> consumer;
    final ExecutorService worker;
    private final Duration closeTimeout;
    private boolean abandoned;
    private boolean leaveGroup;

    Clients(StageSettings settings, String threadName) {
        this.closeTimeout = settings.commitTimeout();
        this.producer = new KafkaProducer<>(settings.producerConfig());
        try {
            this.consumer = new KafkaConsumer<>(settings.consumerConfig());
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * After an {@link Error} nothing more is said to Kafka: no abort, no close, no leave-group. That is
     * the nearest a running JVM gets to a killed process, and the successor instance (same
     * transactional.id and group instance id) fences these clients and aborts their transaction.
     */
    void abandon() {
        abandoned = true;
    }

    /** A clean stop hands the partitions over at once instead of after the session timeout. */
    void leaveGroupOnClose() {
        leaveGroup = true;
    }

    @Override
    public void close() {
        worker.shutdownNow();
        if (abandoned) {
            return;
        }
        try {
            producer.close(closeTimeout);
        } catch (RuntimeException e) {
            log.warn("Producer did not close cleanly", e);
        }
        try {
            CloseOptions options = CloseOptions.timeout(closeTimeout).withGroupMembershipOperation(leaveGroup
                    ? CloseOptions.GroupMembershipOperation.LEAVE_GROUP
                    : CloseOptions.GroupMembershipOperation.DEFAULT);
            consumer.close(options);
        } catch (RuntimeException e) {
            log.warn("Consumer did not close cleanly", e);
        }
    }
}
