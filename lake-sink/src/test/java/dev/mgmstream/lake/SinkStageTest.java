package dev.mgmstream.lake;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.iceberg.data.Record;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The sink on the in-process broker and registry, writing a local Iceberg table. */
class SinkStageTest {

    @TempDir
    Path warehouse;

    private InProcessSchemaRegistry registry;
    private Map<String, String> config;
    private TopicCatalogue topics;

    @BeforeEach
    void setUp() throws Exception {
        registry = InProcessSchemaRegistry.start(SharedKafka.bootstrapServers(), 0);
        config = new HashMap<>();
        config.put("bootstrap.servers", SharedKafka.bootstrapServers());
        config.put("schema.registry.url", registry.url());
        config.put("topics.prefix", "sink-" + UUID.randomUUID().toString().substring(0, 8) + ".");
        config.put("lake.warehouse", warehouse.toString());
        config.put("sink.group.id", "sink-" + UUID.randomUUID());
        config.put("sink.commit.max.rows", "150");
        config.put("sink.commit.interval.ms", "50");
        topics = TopicCatalogue.fromConfig(config);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            new TopicProvisioner(admin).ensure(topics.all());
        }
    }

    @AfterEach
    void tearDown() {
        registry.close();
    }

    /** Writes answers 0..count-1, with one record of garbage bytes in the middle. */
    private void produceAnswers(int count, int garbageAt) {
        String topic = topics.name(TopicRole.ANSWERS);
        try (SchemaRegistryClient client = HttpSchemaRegistryClient.fromConfig(config);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                     SharedKafka.bootstrapServers(), "linger.ms", 5), new ByteArraySerializer(), new ByteArraySerializer())) {
            Serializer<Answer> serializer = AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class,
                    client, config).serializer();
            for (int i = 0; i < count; i++) {
                byte[] key = ("task-" + i).getBytes(StandardCharsets.UTF_8);
                byte[] value = i == garbageAt ? "not avro".getBytes(StandardCharsets.UTF_8)
                        : serializer.serialize(topic, LakeFixtures.answer(i));
                producer.send(new ProducerRecord<>(topic, key, value));
            }
            producer.flush();
        }
    }

    private Map<String, String> instance(String id) {
        Map<String, String> c = new HashMap<>(config);
        c.put("stage.instance.id", id);
        return c;
    }

    /** The summary of the table's newest snapshot; empty before any sink committed. */
    private Map<String, String> newestSummary() {
        LakeSettings lake = LakeSettings.from(config);
        org.apache.iceberg.catalog.Catalog catalog = LakeTable.catalog(lake);
        if (!catalog.tableExists(lake.table())) {
            return Map.of();
        }
        org.apache.iceberg.Snapshot current = catalog.loadTable(lake.table()).currentSnapshot();
        return current == null ? Map.of() : current.summary();
    }

    /** Rows in the table as its snapshot summary counts them; 0 before any sink created it. */
    private long tableRows() {
        return Long.parseLong(newestSummary().getOrDefault("total-records", "0"));
    }

    /** The offsets the table says it has consumed, summed over partitions. */
    private long tableOffsetsSum() {
        return newestSummary().entrySet().stream()
                .filter(e -> e.getKey().startsWith(OffsetLedger.PREFIX))
                .mapToLong(e -> Long.parseLong(e.getValue()))
                .sum();
    }

    private long deadLetters() {
        String dlq = topics.name(TopicRole.DLQ_SINK);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers",
                SharedKafka.bootstrapServers()), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(dlq).stream()
                    .map(p -> new TopicPartition(dlq, p.partition())).toList();
            return c.endOffsets(parts).values().stream().mapToLong(Long::longValue).sum();
        }
    }

    @Test
    void flushSoonCommitsWithoutWaitingOutTheCommitInterval() throws Exception {
        config.put("sink.commit.interval.ms", "600000");
        config.put("sink.commit.max.rows", "5000");
        produceAnswers(20, -1);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        SinkStage sink = SinkStage.start(instance("0"), meters);
        try {
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
                sink.flushSoon();
                return tableRows() == 20;
            });
        } finally {
            sink.close();
        }
        assertThat(sink.failure()).isEmpty();
        assertThat(sink.recordsCommitted()).isEqualTo(20);
        // the meters every stage has, so the dashboard's per-stage panels show the sink too
        assertThat(meters.get("mgm.stage.records.in").tag("stage", "sink").counter().count()).isEqualTo(20);
        assertThat(meters.get("mgm.stage.batch.size").tag("stage", "sink").summary().totalAmount()).isEqualTo(20);
        assertThat(meters.get("mgm.stage.batch.latency").tag("stage", "sink").timer().count()).isPositive();
        assertThat(meters.get("mgm.stage.consumer.lag").tag("stage", "sink").gauge()).isNotNull();
    }

    @Test
    void crashesBetweenLakeAndGroupCommitsNeitherLoseNorDoubleAnswers() throws Exception {
        int count = 3000;
        produceAnswers(count, 1234);

        // Instance a dies right after its third lake commit, before the group's offsets move; instance b
        // dies after its second; c and d then run to the end side by side.
        AtomicBoolean aDied = new AtomicBoolean();
        SinkStage a = SinkStage.start(new SinkStage(instance("a"), new SimpleMeterRegistry(), n -> {
            if (n == 3) {
                aDied.set(true);
                throw new SimulatedCrash();
            }
        }));
        await().atMost(Duration.ofSeconds(60)).until(aDied::get);
        assertThat(a.awaitTermination(Duration.ofSeconds(30))).isTrue();
        long afterA = tableRows();
        assertThat(afterA).isBetween(1L, (long) count - 1);

        AtomicBoolean bDied = new AtomicBoolean();
        SinkStage b = SinkStage.start(new SinkStage(instance("b"), new SimpleMeterRegistry(), n -> {
            if (n == 2) {
                bDied.set(true);
                throw new SimulatedCrash();
            }
        }));
        await().atMost(Duration.ofSeconds(60)).until(bDied::get);
        assertThat(b.awaitTermination(Duration.ofSeconds(30))).isTrue();

        SinkStage c = SinkStage.start(instance("c"), new SimpleMeterRegistry());
        SinkStage d = SinkStage.start(instance("d"), new SimpleMeterRegistry());
        try {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
                    .until(() -> tableRows() >= count - 1);
        } finally {
            c.close();
            d.close();
        }
        assertThat(c.failure()).isEmpty();
        assertThat(d.failure()).isEmpty();

        try (LakeTable lake = LakeTable.open(LakeSettings.from(config))) {
            List<Record> rows = LakeFixtures.readAll(lake.table());
            Map<String, Long> perTask = rows.stream()
                    .collect(Collectors.groupingBy(r -> (String) r.getField("task_id"), Collectors.counting()));
            assertThat(rows).hasSize(count - 1);
            assertThat(perTask.values()).allMatch(n -> n == 1);
            assertThat(perTask).doesNotContainKey("task-1234").containsKeys("task-0", "task-2999");
            Set<String> statuses = rows.stream().map(r -> (String) r.getField("status")).collect(Collectors.toSet());
            assertThat(statuses).containsExactlyInAnyOrder("ok", "rejected");
        }
        assertThat(deadLetters()).isBetween(1L, 2L); // at least once: a crash may repeat it
    }

    @Test
    void aRestartedSinkAddsOnlyWhatIsNew() throws Exception {
        produceAnswers(200, -1);
        SinkStage first = SinkStage.start(instance("0"), new SimpleMeterRegistry());
        await().atMost(Duration.ofSeconds(60)).until(() -> tableRows() == 200);
        first.close();

        produceAnswers(50, -1); // the same 50 task ids again: new records, so new rows
        SinkStage second = SinkStage.start(instance("0"), new SimpleMeterRegistry());
        await().atMost(Duration.ofSeconds(60)).until(() -> tableRows() >= 250);
        Thread.sleep(500);
        second.close();
        assertThat(tableRows()).isEqualTo(250);
    }

    @Test
    void aTopicMadeAgainUnderTheSameNameIsReadFromItsOwnStart() throws Exception {
        produceAnswers(100, -1);
        SinkStage first = SinkStage.start(instance("0"), new SimpleMeterRegistry());
        await().atMost(Duration.ofSeconds(60)).until(() -> tableRows() == 100);
        first.close();

        // A fresh embedded broker next time: same topic name, offsets from 0 again, a new topic id.
        String answers = topics.name(TopicRole.ANSWERS);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            admin.deleteTopics(List.of(answers)).all().get();
            await().atMost(Duration.ofSeconds(30)).until(() -> !admin.listTopics().names().get().contains(answers));
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                new TopicProvisioner(admin).ensure(List.of(topics.spec(TopicRole.ANSWERS)));
                return true;
            });
        }
        produceAnswers(30, -1);
        SinkStage second = SinkStage.start(instance("0"), new SimpleMeterRegistry());
        await().atMost(Duration.ofSeconds(60)).until(() -> tableRows() >= 130);
        Thread.sleep(500);
        second.close();
        assertThat(tableRows()).isEqualTo(130);
    }

    @Test
    void aFailureWhileTakingAPollsRecordsCommitsNothingPastThem() throws Exception {
        config.put("sink.commit.interval.ms", "600000");
        config.put("sink.commit.max.rows", "5000");
        int count = 101;
        produceAnswers(count, -1);
        AtomicInteger taken = new AtomicInteger();
        SinkStage failing = SinkStage.start(new SinkStage(instance("a"), new SimpleMeterRegistry(), new SinkStage.Hooks() {
            @Override
            public void afterLakeCommit(int commitNumber) {
            }

            @Override
            public void beforeTake(ConsumerRecord<byte[], byte[]> record) {
                if (taken.incrementAndGet() == 51) {
                    throw new IllegalStateException("injected: a failure halfway through a poll's records");
                }
            }
        }));
        assertThat(failing.awaitTermination(Duration.ofSeconds(60))).isTrue();
        assertThat(failing.failure()).isPresent();
        assertThat(tableOffsetsSum()).as("offsets the table holds answers for").isEqualTo(tableRows());

        SinkStage next = SinkStage.start(instance("b"), new SimpleMeterRegistry());
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
                next.flushSoon();
                return tableRows() >= count;
            });
        } finally {
            next.close();
        }
        try (LakeTable lake = LakeTable.open(LakeSettings.from(config))) {
            Map<String, Long> perTask = LakeFixtures.readAll(lake.table()).stream()
                    .collect(Collectors.groupingBy(r -> (String) r.getField("task_id"), Collectors.counting()));
            assertThat(perTask).hasSize(count);
            assertThat(perTask.values()).allMatch(n -> n == 1);
        }
        assertThat(deadLetters()).isZero();
    }

    /** Stands for a process killed at that point: an Error, which the stage does not handle. */
    private static final class SimulatedCrash extends Error {
        SimulatedCrash() {
            super("simulated crash after the lake commit");
        }
    }
}
