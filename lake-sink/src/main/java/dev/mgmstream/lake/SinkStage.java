package dev.mgmstream.lake;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroDeserializer;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.pipeline.metrics.StageMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.iceberg.data.Record;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code sink} stage: reads the answers topic ({@code read_committed}) and appends every answer
 * to the lake table exactly once. Any number of copies form one consumer group.
 *
 * <p>Answers are gathered for up to {@code sink.commit.interval.ms} or {@code sink.commit.max.rows},
 * then written as Parquet files and committed with the offsets they reach (see {@link AnswerAppender}).
 * Holding them in memory meanwhile is safe because nothing is acknowledged until that commit: a
 * crash loses the buffer, and the next owner of the partitions reads it again from the offsets in the
 * table. An answer whose bytes do not decode goes to the sink's dead-letter topic (at least once) and
 * is counted as consumed.
 *
 * <pre>{@code
 * SinkStage sink = SinkStage.start(config, meterRegistry);   // config: bootstrap.servers, schema.registry.url, lake.*
 * Runtime.getRuntime().addShutdownHook(new Thread(sink::close));
 * }</pre>
 */
public final class SinkStage implements Runnable, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SinkStage.class);

    /**
     * Test seam: called after the lake commit and before the consumer group commit, and before each
     * record of a poll is taken.
     */
    interface Hooks {
        Hooks NONE = commits -> { };

        void afterLakeCommit(int commitNumber);

        default void beforeTake(ConsumerRecord<byte[], byte[]> record) {
        }
    }

    private final Map<String, String> config;
    private final LakeSettings lake;
    private final String topic;
    private final String writerId;
    private final Hooks hooks;
    private final Counter rowsWritten;
    private final Counter commits;
    private final Counter conflicts;
    private final Counter deadLettered;
    /** The meters every stage has (lag, batch sizes, latency), so the dashboard's per-stage panels show the sink. */
    private final StageMetrics stageMetrics;
    private long nextGaugeUpdate;
    private final CountDownLatch terminated = new CountDownLatch(1);

    private volatile boolean stopRequested;
    private volatile boolean started;
    private volatile KafkaConsumer<byte[], byte[]> consumer;
    private volatile Throwable failure;

    // Owned by the thread in run().
    private final Map<Integer, Long> expected = new HashMap<>();
    private final Map<Integer, Long> next = new HashMap<>();
    private final List<Record> rows = new ArrayList<>();
    private final List<ProducerRecord<byte[], byte[]>> deadLetters = new ArrayList<>();
    private long firstBufferedAt;
    private int commitCount;
    /** Whether every record of the last poll was taken, so that the consumer's position is where the buffer ends. */
    private boolean pollTaken = true;
    /** Set when the loop fails: the buffer is then dropped, not committed, as a crash would lose it. */
    private boolean failing;

    private volatile boolean flushRequested;
    /** A table opened before the stage started (see {@link #start(Map, MeterRegistry, LakeTable)}); run() takes it. */
    private volatile LakeTable opened;

    public SinkStage(Map<String, String> config, MeterRegistry registry) {
        this(config, registry, Hooks.NONE);
    }

    SinkStage(Map<String, String> config, MeterRegistry registry, Hooks hooks) {
        this(config, registry, hooks, null);
    }

    private SinkStage(Map<String, String> config, MeterRegistry registry, Hooks hooks, LakeTable opened) {
        this.opened = opened;
        this.config = Map.copyOf(config);
        this.lake = LakeSettings.from(config);
        this.topic = TopicCatalogue.fromConfig(config).name(TopicRole.ANSWERS);
        this.writerId = "sink-" + config.getOrDefault("stage.instance.id", "0");
        this.hooks = hooks;
        this.rowsWritten = Counter.builder("mgm.sink.rows").description("Answers appended to the lake table")
                .register(registry);
        this.commits = Counter.builder("mgm.sink.commits").description("Iceberg commits by the sink").register(registry);
        this.conflicts = Counter.builder("mgm.sink.conflicts")
                .description("Batches dropped because another writer had moved the table's offsets").register(registry);
        this.stageMetrics = new StageMetrics(registry, "sink");
        this.deadLettered = Counter.builder("mgm.sink.dead.lettered")
                .description("Answer records that did not decode").register(registry);
    }

    /** Runs a sink on a new thread. */
    public static SinkStage start(Map<String, String> config, MeterRegistry registry) {
        return start(new SinkStage(config, registry));
    }

    /**
     * Runs a sink on a new thread with a table the caller opened beforehand ({@link LakeTable#open}), for
     * example while the broker was still starting: the first open of a table loads Iceberg's and Hadoop's
     * classes, seconds of CPU on a small machine. The sink closes the table when it stops.
     */
    public static SinkStage start(Map<String, String> config, MeterRegistry registry, LakeTable opened) {
        return start(new SinkStage(config, registry, Hooks.NONE, opened));
    }

    static SinkStage start(SinkStage sink) {
        Thread t = new Thread(() -> {
            try {
                sink.run();
            } catch (Error e) {
                // recorded in failure(); the thread ends as a crashed process would
            }
        }, "stage-sink-" + sink.writerId);
        t.start();
        return sink;
    }

    public LakeSettings lake() {
        return lake;
    }

    /**
     * Commits what is buffered after the next poll instead of at the end of the commit interval: for a
     * caller that knows no more answers are coming soon (a bulk run that has all its results).
     */
    public void flushSoon() {
        flushRequested = true;
    }

    /** Answer records this instance has committed to the lake (dead-lettered ones included) since it started. */
    public long recordsCommitted() {
        return (long) (rowsWritten.count() + deadLettered.count());
    }

    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    @Override
    public void run() {
        started = true;
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             LakeTable table = takeOrOpenTable();
             KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerConfig());
             KafkaProducer<byte[], byte[]> dlq = new KafkaProducer<>(producerConfig())) {
            consumer = c;
            AvroDeserializer<Answer> answers = AvroSerdes.valueDeserializer(Answer.class, registry);
            TopicCatalogue topics = TopicCatalogue.fromConfig(config);
            Serializer<Rejection> rejections = AvroSerdes.valueSerde(
                    topics.spec(TopicRole.DLQ_SINK), Rejection.class, registry, config).serializer();
            String dlqTopic = topics.name(TopicRole.DLQ_SINK);
            // The ledger names the topic with its id: a topic deleted and made again (a fresh embedded broker)
            // starts at offset 0, and must not inherit the positions of the one before.
            AnswerAppender appender = new AnswerAppender(table.table(), topic + "/" + topicId(), writerId,
                    lake.commitAttempts());
            Flusher flusher = new Flusher(c, appender, dlq);
            c.subscribe(List.of(topic), new Rebalance(c, appender, flusher));
            log.info("Sink {} reading {} into lake table {} ({})", writerId, topic, lake.table(), table.table().location());
            try {
                while (!stopRequested) {
                    ConsumerRecords<byte[], byte[]> polled;
                    try {
                        polled = c.poll(lake.pollTimeout());
                    } catch (WakeupException woken) {
                        continue;
                    }
                    pollTaken = false;
                    for (ConsumerRecord<byte[], byte[]> r : polled) {
                        hooks.beforeTake(r);
                        take(r, answers, rejections, dlqTopic);
                    }
                    pollTaken = true;
                    updateGauges(c);
                    boolean due = !rows.isEmpty() || !deadLetters.isEmpty();
                    if (due && (flushRequested || rows.size() >= lake.maxRows()
                            || System.nanoTime() - firstBufferedAt >= lake.commitInterval().toNanos())) {
                        flushRequested = false;
                        flusher.flush();
                    }
                }
                flusher.flush();
            } catch (RuntimeException | Error e) {
                // Closing the consumer revokes its partitions, which would commit the buffer: a failure
                // can leave it short of the records polled, and nothing in it has been acknowledged.
                failing = true;
                throw e;
            }
        } catch (RuntimeException e) {
            failure = e;
            log.error("Sink {} failed", writerId, e);
        } catch (Error e) {
            failure = e;
            throw e;
        } finally {
            terminated.countDown();
        }
    }

    /** Lag and buffer gauges, read on the poll thread (the consumer is not for the scrape thread), once a second. */
    private void updateGauges(KafkaConsumer<byte[], byte[]> c) {
        long now = System.nanoTime();
        if (now < nextGaugeUpdate) {
            return;
        }
        nextGaugeUpdate = now + TimeUnit.SECONDS.toNanos(1);
        long lag = 0;
        for (TopicPartition tp : c.assignment()) {
            lag += c.currentLag(tp).orElse(0);
        }
        stageMetrics.lag(lag);
        stageMetrics.buffered(rows.size() + deadLetters.size());
    }

    private LakeTable takeOrOpenTable() {
        LakeTable t = opened;
        opened = null;
        return t != null ? t : LakeTable.open(lake);
    }

    private String topicId() {
        Map<String, Object> admin = new HashMap<>(passThrough(KafkaClientConfigs.Kind.ADMIN));
        admin.put("bootstrap.servers", config.getOrDefault("bootstrap.servers", "localhost:9092"));
        try (Admin client = Admin.create(admin)) {
            return client.describeTopics(List.of(topic)).allTopicNames().get(60, TimeUnit.SECONDS).get(topic)
                    .topicId().toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaException("Interrupted while describing " + topic, e);
        } catch (Exception e) {
            throw new KafkaException("Could not describe the answers topic " + topic, e);
        }
    }

    private void take(ConsumerRecord<byte[], byte[]> r, AvroDeserializer<Answer> answers,
                      Serializer<Rejection> rejections, String dlqTopic) {
        if (!expected.containsKey(r.partition())) {
            return; // revoked while the fetch was in flight
        }
        if (rows.isEmpty() && deadLetters.isEmpty()) {
            firstBufferedAt = System.nanoTime();
        }
        try {
            Answer a = answers.deserialize(r.topic(), r.value());
            if (a == null) {
                throw new IllegalArgumentException("tombstone on the answers topic");
            }
            rows.add(AnswerTable.row(a, r.topic(), r.partition(), r.offset(), r.timestamp()));
        } catch (RuntimeException bad) {
            Rejection rejection = Rejection.newBuilder()
                    .setSourceTopic(r.topic()).setPartition(r.partition()).setOffset(r.offset())
                    .setKey(r.key() == null ? null : ByteBuffer.wrap(r.key()))
                    .setValue(r.value() == null ? null : ByteBuffer.wrap(r.value()))
                    .setErrorClass(bad.getClass().getName()).setErrorMessage(bad.getMessage())
                    .setStage("sink").setTime(Instant.now()).setAttempt(1)
                    .setTaskId(r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8))
                    .build();
            deadLetters.add(new ProducerRecord<>(dlqTopic, r.key(), rejections.serialize(dlqTopic, rejection)));
        }
        next.put(r.partition(), r.offset() + 1);
    }

    /** Commits what is buffered; on a conflict drops it and rewinds to the table's offsets. */
    private final class Flusher {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final AnswerAppender appender;
        private final KafkaProducer<byte[], byte[]> dlq;

        Flusher(KafkaConsumer<byte[], byte[]> consumer, AnswerAppender appender, KafkaProducer<byte[], byte[]> dlq) {
            this.consumer = consumer;
            this.appender = appender;
            this.dlq = dlq;
        }

        void flush() {
            if (next.isEmpty()) {
                return;
            }
            for (ProducerRecord<byte[], byte[]> d : deadLetters) {
                try {
                    dlq.send(d).get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new KafkaException("Could not write to the sink's dead-letter topic " + d.topic(), e);
                }
            }
            // Commit markers and aborted records take offsets too: the consumer's position is past them, and
            // everything before it is in the buffer once all of the last poll's records were taken.
            if (pollTaken) {
                for (Integer p : expected.keySet()) {
                    long position = consumer.position(new TopicPartition(topic, p));
                    if (position > next.getOrDefault(p, expected.get(p))) {
                        next.put(p, position);
                    }
                }
            }
            Map<Integer, Long> from = new HashMap<>();
            next.keySet().forEach(p -> from.put(p, expected.get(p)));
            AnswerAppender.Outcome outcome = appender.append(new AnswerAppender.Batch(rows, from, next));
            if (outcome.committed()) {
                commits.increment();
                rowsWritten.increment(rows.size());
                deadLettered.increment(deadLetters.size());
                stageMetrics.committed(rows.size() + deadLetters.size(), rows.size(), deadLetters.size(),
                        Duration.ofNanos(System.nanoTime() - firstBufferedAt));
                Map<TopicPartition, OffsetAndMetadata> group = new HashMap<>();
                next.forEach((p, o) -> group.put(new TopicPartition(topic, p), new OffsetAndMetadata(o)));
                expected.putAll(next);
                clearBuffer();
                hooks.afterLakeCommit(++commitCount);
                commitGroupQuietly(group);
            } else {
                conflicts.increment();
                stageMetrics.aborted();
                log.warn("Sink {}: another writer moved the lake offsets of {} (table {}, expected {}); "
                        + "dropping {} buffered answers and rewinding", writerId, topic, outcome.tableOffsets(), from,
                        rows.size());
                clearBuffer();
                rewind(consumer, consumer.assignment(), outcome.tableOffsets());
            }
        }

        /** The group's offsets are only for lag monitoring; the table's are the ones that count. */
        private void commitGroupQuietly(Map<TopicPartition, OffsetAndMetadata> offsets) {
            try {
                consumer.commitSync(offsets, Duration.ofSeconds(10));
            } catch (KafkaException e) {
                log.debug("Group offset commit skipped: {}", e.toString());
            }
        }
    }

    private void clearBuffer() {
        rows.clear();
        deadLetters.clear();
        next.clear();
    }

    /** Positions each partition at the table's offset, or at the beginning if the table has none. */
    private void rewind(KafkaConsumer<byte[], byte[]> c, Collection<TopicPartition> partitions,
                        Map<Integer, Long> tableOffsets) {
        List<TopicPartition> fromStart = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            Long offset = tableOffsets.get(tp.partition());
            if (offset == null) {
                fromStart.add(tp);
                expected.put(tp.partition(), AnswerAppender.NONE);
            } else {
                c.seek(tp, offset);
                expected.put(tp.partition(), offset);
            }
        }
        if (!fromStart.isEmpty()) {
            c.seekToBeginning(fromStart);
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final AnswerAppender appender;
        private final Flusher flusher;

        Rebalance(KafkaConsumer<byte[], byte[]> consumer, AnswerAppender appender, Flusher flusher) {
            this.consumer = consumer;
            this.appender = appender;
            this.flusher = flusher;
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (!partitions.isEmpty()) {
                Map<Integer, Long> table = appender.tableOffsets();
                rewind(consumer, partitions, table);
                log.info("Sink {} assigned {}, resuming from the table's offsets {}", writerId, partitions, table);
            }
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (!partitions.isEmpty()) {
                if (failing) {
                    clearBuffer();
                } else {
                    flusher.flush();
                }
                partitions.forEach(tp -> expected.remove(tp.partition()));
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            // Someone else may own them already: what is buffered is theirs to write.
            clearBuffer();
            partitions.forEach(tp -> expected.remove(tp.partition()));
        }
    }

    private Map<String, Object> consumerConfig() {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.getOrDefault("bootstrap.servers", "localhost:9092"));
        p.put(ConsumerConfig.GROUP_ID_CONFIG, lake.groupId());
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.min(lake.maxRows(), 2000));
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 15_000);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, writerId + "-consumer");
        p.putAll(passThrough(KafkaClientConfigs.Kind.CONSUMER));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return p;
    }

    private Map<String, Object> producerConfig() {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.getOrDefault("bootstrap.servers", "localhost:9092"));
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, writerId + "-dlq");
        p.putAll(passThrough(KafkaClientConfigs.Kind.PRODUCER));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return p;
    }

    private Map<String, Object> passThrough(KafkaClientConfigs.Kind kind) {
        return KafkaClientConfigs.passThrough(config, kind);
    }

    /** Asks the stage to stop: it commits what it holds, leaves the group and closes. */
    @Override
    public void close() {
        stopRequested = true;
        if (!started) {
            LakeTable t = opened;
            opened = null;
            if (t != null) {
                t.close();
            }
            return;
        }
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            if (!terminated.await(60, TimeUnit.SECONDS)) {
                log.warn("Sink {} did not stop within 60 s", writerId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits for the stage to end on its own (it runs until {@link #close()} or a failure). */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
}
