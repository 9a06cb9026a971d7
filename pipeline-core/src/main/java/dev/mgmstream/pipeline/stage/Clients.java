package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The resources of one stage run: its consumer, its transactional producer, its worker thread. */
final class Clients implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Clients.class);

    private final StageSettings settings;
    private final ClientFactory factory;
    private final String threadName;
    final Consumer<byte[], byte[]> consumer;
    Producer<byte[], byte[]> producer;
    ExecutorService worker;
    /** Workers given up on after a batch overran its timeout; their threads may still be computing. */
    private final List<ExecutorService> retired = new ArrayList<>();
    private final Duration closeTimeout;
    private boolean abandoned;
    private boolean leaveGroup;
    private volatile boolean workersStopped = true;

    Clients(StageSettings settings, ClientFactory factory, String threadName) {
        this.settings = settings;
        this.factory = factory;
        this.threadName = threadName;
        this.closeTimeout = settings.commitTimeout();
        this.producer = factory.producer(settings.producerConfig());
        try {
            this.consumer = factory.consumer(settings.consumerConfig());
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
        this.worker = newWorker();
    }

    private ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Replaces a producer whose transaction is in an unknown state (a commit that timed out for good, an
     * abort that failed). The new one has the same transactional.id: its {@code initTransactions} fences the
     * old one and waits for the coordinator to finish or abort whatever the old one left open.
     */
    void renewProducer() {
        try {
            producer.close(Duration.ZERO);
        } catch (RuntimeException e) {
            log.warn("Closing the old producer failed ({}); going on with a new one", e.toString());
        }
        producer = factory.producer(settings.producerConfig());
        producer.initTransactions();
    }

    /**
     * Gives up on a worker stuck in a batch past its timeout: it is interrupted and left to finish, and a
     * fresh thread takes the next batch once the old one has come back (see {@code Stage#wedged}).
     */
    void retireWorker() {
        worker.shutdownNow();
        retired.add(worker);
        worker = newWorker();
    }

    /** Whether every worker given up on has ended; those that have are forgotten. */
    boolean retiredWorkersStopped() {
        retired.removeIf(ExecutorService::isTerminated);
        return retired.isEmpty();
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

    /**
     * Whether every worker thread has ended: only then may the models they call be closed. A model closed
     * under a thread that is still inside it crashes the JVM (ONNX Runtime frees what the run is using).
     */
    boolean workersStopped() {
        return workersStopped;
    }

    @Override
    public void close() {
        // The worker is not interrupted: an interrupt would end a batch function's Java waits while threads it
        // started are still inside native inference. It is given the batch timeout to come back instead.
        worker.shutdown();
        workersStopped = awaitWorkers(settings.batchTimeout());
        if (!workersStopped) {
            log.error("A batch is still computing {} after the stop; its models must stay open",
                    settings.batchTimeout());
        }
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

    private boolean awaitWorkers(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<ExecutorService> all = new ArrayList<>(retired);
        all.add(worker);
        try {
            for (ExecutorService w : all) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !w.awaitTermination(left, TimeUnit.NANOSECONDS)) {
                    return false;
                }
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
