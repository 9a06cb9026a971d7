package dev.mgmstream.pipeline.stage;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import dev.mgmstream.pipeline.metrics.Health;
import dev.mgmstream.pipeline.metrics.StageMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link StageDefinition}: a consumer-group member that forms micro-batches, computes them on
 * a worker thread, and writes each batch's outputs together with its input offsets in one Kafka
 * transaction.
 *
 * <p>All Kafka calls happen on the thread that runs {@link #run()} (the poll thread); the worker only
 * runs the pure part ({@link BatchProcessor}). The poll thread keeps polling while a batch computes,
 * pausing fetches when enough is buffered, so a slow model never exceeds {@code max.poll.interval.ms}.
 * When the worker finishes it wakes the poll thread up rather than waiting for the poll timeout.
 *
 * <p>Failures are sorted as in apache/kafka's {@code ExactlyOnceMessageProcessor}: fencing and
 * authorization errors stop the stage; anything else aborts the transaction and rewinds to the last
 * committed offsets, so the same inputs are processed again and their outputs written once. Nothing is
 * polled while a rewind is owed, so a rewind that fails cannot let the stage read on past lost inputs.
 * A commit that timed out is committed again, never aborted (the client's contract), and a batch past
 * its timeout is abandoned with its worker. An {@link Error} abandons everything without another word
 * to Kafka (see {@link Clients#abandon()}). docs/configuration.md, "When things fail", has the list.
 *
 * <pre>{@code
 * Stage<String, String> stage = Stage.start(definition, StageSettings.resolve("upper", flags), registry);
 * Runtime.getRuntime().addShutdownHook(new Thread(stage::close));
 * }</pre>
 */
public final class Stage<K, V> implements Runnable, AutoCloseable {

    /** Lifecycle as seen from outside. */
    public enum State { NEW, RUNNING, STOPPED, FAILED, HALTED }

    private static final Logger log = LoggerFactory.getLogger(Stage.class);

    private final StageDefinition<K, V> definition;
    private final StageSettings settings;
    private final StageMetrics metrics;
    private final MeterRegistry meterRegistry;
    private final StageListener listener;
    private final ClientFactory clientFactory;
    private final BatchProcessor<K, V> processor;
    private final MicroBatcher<ConsumerRecord<byte[], byte[]>> batcher;
    private final CountDownLatch terminated = new CountDownLatch(1);

    private volatile boolean stopRequested;
    private volatile State state = State.NEW;
    private volatile Throwable failure;
    private volatile Clients clients;
    private volatile boolean workersStopped = true;

    // Owned by the poll thread.
    private Pending pending;
    private boolean transactionOpen;
    /** The consumer's positions may be past inputs that produced nothing; nothing is polled until they are not. */
    private boolean rewindNeeded;
    /** Batches in a row that failed or overran; sets how long to wait before reading them again. */
    private int failedInARow;
    /** When the last overrunning batch was abandoned, while its thread has not come back; 0 otherwise. */
    private volatile long abandonedAt;
    /** When the batch now computing was formed, 0 when none: for the health check, on another thread. */
    private volatile long computingSince;
    private volatile boolean joined;
    private long nextLagUpdate;

    public Stage(StageDefinition<K, V> definition, StageSettings settings, MeterRegistry registry) {
        this(definition, settings, registry, StageListener.NONE);
    }

    public Stage(StageDefinition<K, V> definition, StageSettings settings, MeterRegistry registry,
                 StageListener listener) {
        this(definition, settings, registry, listener, ClientFactory.KAFKA);
    }

    public Stage(StageDefinition<K, V> definition, StageSettings settings, MeterRegistry registry,
                 StageListener listener, ClientFactory clientFactory) {
        this.definition = definition;
        this.settings = settings;
        this.metrics = new StageMetrics(registry, definition.name());
        this.meterRegistry = registry;
        this.listener = listener;
        this.clientFactory = clientFactory;
        BatchExecutor<K, V> executor = new BatchExecutor<>(definition.batchFunction(), settings.retries(),
                settings.retryBackoff(), settings.retryBackoffMax(), d -> Thread.sleep(d.toMillis()));
        this.processor = new BatchProcessor<>(definition, executor, Clock.systemUTC(), settings.maxRecordBytes());
        this.batcher = new MicroBatcher<>(settings.batchMaxSize(), settings.linger(), settings.maxBuffered(),
                System::nanoTime);
    }

    /** Runs the stage on a new thread named after it. */
    public static <K, V> Stage<K, V> start(StageDefinition<K, V> definition, StageSettings settings,
                                           MeterRegistry registry) {
        return start(new Stage<>(definition, settings, registry));
    }

    public static <K, V> Stage<K, V> start(Stage<K, V> stage) {
        Thread t = new Thread(() -> {
            try {
                stage.run();
            } catch (Error e) {
                // Recorded in failure(); the thread ends as a crashed process would.
            }
        }, "stage-" + stage.definition.name() + "-" + stage.settings.instanceId());
        t.start();
        return stage;
    }

    @Override
    public void run() {
        state = State.RUNNING;
        Clients opened = null;
        // The consumer's own metrics (fetch rates, lag, request latency) beside the stage's, while it lives.
        try (Clients c = new Clients(settings, clientFactory, "stage-" + definition.name() + "-worker");
             KafkaClientMetrics consumerMetrics = new KafkaClientMetrics(c.consumer)) {
            opened = c;
            clients = c;
            consumerMetrics.bindTo(meterRegistry);
            meterRegistry.gauge("mgm.stage.up", List.of(io.micrometer.core.instrument.Tag.of("stage", definition.name())),
                    this, st -> st.state == State.RUNNING ? 1 : 0);
            try {
                if (!stopRequested) {
                    c.producer.initTransactions();
                    c.consumer.subscribe(definition.inputTopics(), new Rebalance());
                    loop();
                }
                if (failure == null) {
                    settleOnShutdown();
                    c.leaveGroupOnClose();
                }
            } catch (Error e) {
                c.abandon();
                failure = e;
                state = State.HALTED;
                log.error("Stage {} halted by {}; clients abandoned without commit or close", definition.name(),
                        e.toString());
                throw e;
            }
        } catch (RuntimeException e) {
            failure = e;
            KafkaErrors.authorizationHelp(e, definition.name(), settings).ifPresentOrElse(
                    help -> log.error("Stage {} failed: {}", definition.name(), help),
                    () -> log.error("Stage {} failed", definition.name(), e));
        } finally {
            workersStopped = opened == null || opened.workersStopped();
            if (state == State.RUNNING) {
                state = failure == null ? State.STOPPED : State.FAILED;
            }
            terminated.countDown();
        }
    }

    /**
     * Whether, once terminated, no batch of this stage is computing any more, so the models its batch
     * function calls can be closed. False only when a batch overran even the wait at the stop: closing its
     * models then would crash the JVM under the thread still inside them.
     */
    public boolean workersStopped() {
        return workersStopped;
    }

    /** Asks the stage to stop; safe from any thread, including a shutdown hook. */
    public void stop() {
        stopRequested = true;
        Clients c = clients;
        if (c != null) {
            c.consumer.wakeup();
        }
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Stops and waits, long enough for an in-flight batch to finish and commit. */
    @Override
    public void close() {
        stop();
        try {
            if (state != State.NEW && !awaitTermination(settings.batchTimeout().plus(settings.commitTimeout())
                    .multipliedBy(2))) {
                log.warn("Stage {} did not stop in time", definition.name());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public State state() {
        return state;
    }

    /** Why the stage ended, if not by {@link #stop()}. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    public String name() {
        return definition.name();
    }

    private void loop() {
        while (!stopRequested) {
            if (wedged()) {
                return;
            }
            try {
                step();
            } catch (Error e) {
                throw e;
            } catch (RuntimeException e) {
                if (!recover(e)) {
                    return;
                }
            }
        }
    }

    private void step() {
        if (rewindNeeded) {
            rewind();
        }
        if (pending != null && !pending.result.isDone() && overran(pending)) {
            abandonOverrun();
            return;
        }
        ConsumerRecords<byte[], byte[]> polled = poll(pollTimeout());
        if (rewindNeeded) {
            // A rebalance callback in that poll could not commit: what it returned may lie past inputs that
            // produced nothing, and the rewind at the next step drops it.
            return;
        }
        List<ConsumerRecord<byte[], byte[]>> fresh = new ArrayList<>(polled.count());
        polled.forEach(fresh::add);
        batcher.add(fresh);
        if (pending != null && pending.result.isDone()) {
            complete();
        }
        if (pending == null && batcher.ready() && !stopRequested && abandonedAt == 0) {
            submit(batcher.drain());
        }
        applyFlow();
        updateGauges();
    }

    private Duration pollTimeout() {
        long maxNanos = settings.pollTimeout().toNanos();
        if (pending != null) {
            return pending.result.isDone() ? Duration.ZERO : Duration.ofNanos(maxNanos);
        }
        return Duration.ofNanos(Math.min(maxNanos, batcher.nanosUntilReady()));
    }

    private ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
        try {
            return clients.consumer.poll(timeout);
        } catch (WakeupException e) {
            // The worker finished, or stop() was called: both are handled by the loop.
            return ConsumerRecords.empty();
        }
    }

    private void submit(List<ConsumerRecord<byte[], byte[]>> batch) {
        Pending p = new Pending(batch, System.nanoTime());
        Clients c = clients;
        p.task(c.worker.submit(() -> {
            try {
                p.result.complete(processor.process(batch));
            } catch (Throwable t) {
                p.result.completeExceptionally(t);
            } finally {
                c.consumer.wakeup();
            }
        }));
        pending = p;
        computingSince = p.startedNanos();
    }

    private boolean overran(Pending p) {
        return System.nanoTime() - p.startedNanos() > settings.batchTimeout().toNanos();
    }

    /**
     * A batch past {@code stage.batch.timeout.ms} is given up: its worker is interrupted and replaced, and its
     * inputs are read again after a backoff. Left alone it would hold its partitions for good while the
     * consumer, polling on, kept the group thinking all is well.
     */
    private void abandonOverrun() {
        Pending p = pending;
        log.error("Stage {}: a batch of {} has computed for more than {}; abandoning it and reading its inputs "
                + "again", definition.name(), p.records().size(), settings.batchTimeout());
        metrics.timedOut();
        dropInFlight(true);
        clients.retireWorker();
        abandonedAt = System.nanoTime();
        rewindNeeded = true;
        rewind();
        backOff();
    }

    /**
     * An abandoned batch's thread must come back before the next batch starts: two threads inside one model
     * at once is what native inference does not survive. If it has not come back within another batch
     * timeout it never will (deaf to the interrupt, stuck in native code): the stage then fails and leaves
     * the group, so its partitions move to a healthy instance, and its process exits without closing the
     * models (see {@link #workersStopped()}) for its supervisor to start it afresh.
     */
    private boolean wedged() {
        if (abandonedAt == 0) {
            return false;
        }
        if (clients.retiredWorkersStopped()) {
            abandonedAt = 0;
            return false;
        }
        if (System.nanoTime() - abandonedAt < settings.batchTimeout().toNanos()) {
            return false;
        }
        failure = new IllegalStateException("a batch function call overran " + settings.batchTimeout()
                + " and did not return when interrupted; stopping so that the group moves this instance's partitions");
        log.error("Stage {}: {}", definition.name(), failure.getMessage());
        clients.leaveGroupOnClose();
        return true;
    }

    /** Commits the finished in-flight batch, or reads its inputs again if it could not be computed. */
    private void complete() {
        Pending p = pending;
        clearPending();
        Prepared prepared;
        try {
            prepared = p.result.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Error err) {
                throw err;
            }
            log.warn("Stage {}: batch of {} could not be computed ({}); reading it again", definition.name(),
                    p.records().size(), cause.toString());
            rewindNeeded = true;
            rewind();
            backOff();
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaException("Interrupted while collecting a finished batch", e);
        }
        commit(p, prepared);
        failedInARow = 0;
    }

    private void commit(Pending p, Prepared prepared) {
        Clients c = clients;
        c.producer.beginTransaction();
        transactionOpen = true;
        prepared.records().forEach(c.producer::send);
        c.producer.sendOffsetsToTransaction(p.nextOffsets(), c.consumer.groupMetadata());
        listener.beforeCommit(p.records().size(), prepared.records().size());
        long committing = System.nanoTime();
        commitTransaction();
        transactionOpen = false;
        Duration latency = Duration.ofNanos(System.nanoTime() - p.startedNanos());
        metrics.committed(p.records().size(), prepared.outputs(), prepared.rejected(), latency);
        if (log.isDebugEnabled()) {
            log.debug("Stage {}: committed {} inputs, {} outputs ({} dead-lettered), {} ms from forming the batch, "
                            + "commit {} ms", definition.name(), p.records().size(), prepared.outputs(),
                    prepared.rejected(), latency.toMillis(), (System.nanoTime() - committing) / 1_000_000);
        }
        listener.afterCommit(p.records().size(), prepared.records().size());
    }

    /**
     * Commits the open transaction as the client's contract asks: after a timeout or an interrupt the commit
     * may already be completing, so the only calls allowed are the same commit again or closing the producer
     * (an abort is refused with IllegalStateException). Retried within the commit timeout; after that the
     * producer is replaced, which settles the transaction either way, and the inputs are read again from
     * whatever offsets the group then has.
     */
    private void commitTransaction() {
        long deadline = System.nanoTime() + settings.commitTimeout().toNanos();
        for (int attempt = 1; ; attempt++) {
            try {
                clients.producer.commitTransaction();
                return;
            } catch (org.apache.kafka.common.errors.TimeoutException | org.apache.kafka.common.errors.InterruptException e) {
                if (e instanceof org.apache.kafka.common.errors.InterruptException) {
                    Thread.interrupted(); // the retry must not be interrupted by the same flag
                }
                if (System.nanoTime() > deadline || stopRequested && attempt > 1) {
                    log.warn("Stage {}: commit still unconfirmed after {} tries ({}); replacing the producer and "
                            + "reading again from the group's offsets", definition.name(), attempt, e.toString());
                    transactionOpen = false;
                    clients.renewProducer();
                    throw new CommitOutcomeUnknownException(e);
                }
                log.warn("Stage {}: commit not confirmed ({}); committing again", definition.name(), e.toString());
            }
        }
    }

    /** A commit whose outcome only the group's committed offsets can tell; the stage rewinds to them. */
    static final class CommitOutcomeUnknownException extends KafkaException {
        private static final long serialVersionUID = 1L;

        CommitOutcomeUnknownException(Throwable cause) {
            super("the transaction's commit was not confirmed", cause);
        }
    }

    /** @return whether the stage can go on */
    private boolean recover(RuntimeException e) {
        if (KafkaErrors.isUnrecoverable(e)) {
            KafkaErrors.authorizationHelp(e, definition.name(), settings).ifPresentOrElse(
                    help -> log.error("Stage {}: {} Shutting down.", definition.name(), help),
                    () -> log.error("Stage {}: unrecoverable ({}); shutting down", definition.name(), e.toString()));
            failure = e;
            dropInFlight(false);
            return false;
        }
        log.warn("Stage {}: aborting and rewinding to the last commit after {}", definition.name(), e.toString());
        rewindNeeded = true;
        if (!abortQuietly()) {
            return false;
        }
        try {
            rewind();
        } catch (RuntimeException again) {
            if (KafkaErrors.isUnrecoverable(again)) {
                failure = again;
                return false;
            }
            // rewindNeeded stays set: the next step tries again before it polls anything.
            log.warn("Stage {}: rewind failed, retrying ({})", definition.name(), again.toString());
        }
        backOff();
        return true;
    }

    /** @return false when the abort itself showed the producer is fenced */
    private boolean abortQuietly() {
        if (!transactionOpen) {
            return true;
        }
        transactionOpen = false;
        metrics.aborted();
        try {
            clients.producer.abortTransaction();
            return true;
        } catch (KafkaException | IllegalStateException e) {
            if (KafkaErrors.isUnrecoverable(e)) {
                failure = e;
                return false;
            }
            // The transaction's state is unknown (the abort timed out, or the client refuses it): a new producer
            // with the same transactional.id settles it on the coordinator.
            log.warn("Stage {}: abort failed ({}); replacing the producer", definition.name(), e.toString());
            try {
                clients.renewProducer();
                return true;
            } catch (KafkaException again) {
                if (KafkaErrors.isUnrecoverable(again)) {
                    failure = again;
                    return false;
                }
                throw again;
            }
        }
    }

    /**
     * Forgets everything fetched but not committed and seeks every assigned partition back to its
     * committed offset: the only position known to agree with what downstream has seen.
     */
    private void rewind() {
        dropInFlight(true);
        Clients c = clients;
        Set<TopicPartition> assigned = c.consumer.assignment();
        batcher.discardIf(r -> true);
        if (assigned.isEmpty()) {
            rewindNeeded = false;
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> committed = committed(assigned);
        List<TopicPartition> never = new ArrayList<>();
        for (TopicPartition tp : assigned) {
            OffsetAndMetadata o = committed.get(tp);
            if (o != null) {
                c.consumer.seek(tp, o);
            } else {
                never.add(tp);
            }
        }
        if (!never.isEmpty()) {
            Object reset = settings.consumerConfig().get("auto.offset.reset");
            if ("latest".equals(reset)) {
                c.consumer.seekToEnd(never);
            } else {
                c.consumer.seekToBeginning(never);
            }
        }
        rewindNeeded = false;
    }

    private Map<TopicPartition, OffsetAndMetadata> committed(Set<TopicPartition> partitions) {
        for (int attempt = 0; ; attempt++) {
            try {
                return clients.consumer.committed(partitions, settings.commitTimeout());
            } catch (WakeupException e) {
                // A late wake-up from the worker; the question is still worth asking.
                if (attempt > 3) {
                    throw e;
                }
            }
        }
    }

    private void clearPending() {
        pending = null;
        computingSince = 0;
    }

    /**
     * For Kubernetes' probes, from any thread. Live until the stage failed or halted (a restart is then the
     * cure); ready while running in its group with no batch past its timeout and none abandoned unreturned.
     */
    public Health health() {
        State s = state;
        if (s == State.FAILED || s == State.HALTED) {
            return new Health(false, false, definition.name() + " " + s.name().toLowerCase()
                    + failure().map(f -> ": " + f.getMessage()).orElse(""));
        }
        if (s != State.RUNNING || !joined) {
            return new Health(true, false, definition.name() + " " + (s == State.RUNNING ? "joining its group"
                    : s.name().toLowerCase()));
        }
        long since = computingSince;
        if (abandonedAt != 0 || since != 0 && System.nanoTime() - since > settings.batchTimeout().toNanos()) {
            return new Health(true, false, definition.name() + " has a batch past its timeout");
        }
        return new Health(true, true, definition.name() + " running");
    }

    /** @param interrupt whether to interrupt a batch still computing (never on a stop: see {@link Clients#close()}) */
    private void dropInFlight(boolean interrupt) {
        if (pending != null) {
            pending.abandon(interrupt);
            clearPending();
        }
    }

    private void settleOnShutdown() {
        if (pending == null) {
            return;
        }
        if (settings.onShutdown() == InFlightPolicy.COMMIT) {
            finishAndCommit("shutdown");
        }
        dropInFlight(false);
    }

    /** Waits for the in-flight batch and commits it; on any trouble leaves it for {@link #dropInFlight()}. */
    private void finishAndCommit(String why) {
        Pending p = pending;
        try {
            long left = settings.batchTimeout().toNanos() - (System.nanoTime() - p.startedNanos());
            Prepared prepared = p.result.get(Math.max(left, 0), TimeUnit.NANOSECONDS);
            // pending stays set until the commit is through: if it fails, the caller must still know which
            // inputs to read again on the partitions this member keeps.
            commit(p, prepared);
            clearPending();
            log.info("Stage {}: committed the in-flight batch of {} on {}", definition.name(), p.records().size(),
                    why);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            log.warn("Stage {}: in-flight batch failed on {}; dropping it", definition.name(), why);
        } catch (TimeoutException e) {
            log.warn("Stage {}: in-flight batch still computing after {} on {}; dropping it", definition.name(),
                    settings.batchTimeout(), why);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (KafkaException e) {
            if (KafkaErrors.isUnrecoverable(e)) {
                throw e;
            }
            log.warn("Stage {}: commit on {} failed ({}); the inputs will be read again", definition.name(), why,
                    e.toString());
            rewindNeeded = true;
            abortQuietly();
        }
    }

    private void applyFlow() {
        Clients c = clients;
        switch (batcher.flow()) {
            case PAUSE -> c.consumer.pause(c.consumer.assignment());
            case RESUME -> c.consumer.resume(c.consumer.assignment());
            default -> { }
        }
    }

    private void updateGauges() {
        long now = System.nanoTime();
        if (now < nextLagUpdate) {
            return;
        }
        nextLagUpdate = now + TimeUnit.SECONDS.toNanos(1);
        long lag = 0;
        for (TopicPartition tp : clients.consumer.assignment()) {
            lag += clients.consumer.currentLag(tp).orElse(0);
        }
        metrics.lag(lag);
        metrics.buffered(batcher.size());
    }

    /** Runs inside poll() on the poll thread, so it may use the clients directly. */
    private final class Rebalance implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
            if (revoked.isEmpty()) {
                return;
            }
            Set<TopicPartition> gone = new HashSet<>(revoked);
            if (pending != null && pending.touches(gone)) {
                if (settings.onRevoke() == InFlightPolicy.COMMIT) {
                    finishAndCommit("revocation of " + gone);
                }
                if (pending != null) {
                    dropForNewOwner(gone);
                }
            }
            batcher.discardIf(r -> gone.contains(new TopicPartition(r.topic(), r.partition())));
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> lost) {
            // The generation is gone: a commit would be refused, so nothing is even attempted.
            Set<TopicPartition> gone = new HashSet<>(lost);
            if (pending != null && pending.touches(gone)) {
                dropForNewOwner(gone);
            }
            batcher.discardIf(r -> gone.contains(new TopicPartition(r.topic(), r.partition())));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
            joined = true;
            if (batcher.paused() && !assigned.isEmpty()) {
                clients.consumer.pause(assigned);
            }
        }

        /** Partitions this member keeps must be read again from where the dropped batch began. */
        private void dropForNewOwner(Set<TopicPartition> gone) {
            Pending p = pending;
            dropInFlight(true);
            p.firstOffsets().forEach((tp, offset) -> {
                if (!gone.contains(tp)) {
                    clients.consumer.seek(tp, offset);
                    batcher.discardIf(r -> r.topic().equals(tp.topic()) && r.partition() == tp.partition());
                }
            });
        }
    }

    /**
     * Waits before reading failed inputs again, longer each time in a row (jittered, up to the backoff
     * ceiling), so an outage of a registry or store is waited out instead of hammered.
     */
    private void backOff() {
        failedInARow++;
        if (stopRequested) {
            return;
        }
        try {
            Thread.sleep(Backoff.jittered(settings.retryBackoff(), settings.retryBackoffMax(), failedInARow).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
