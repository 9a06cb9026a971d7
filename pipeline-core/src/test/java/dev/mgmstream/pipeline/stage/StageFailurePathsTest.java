package dev.mgmstream.pipeline.stage;

import static dev.mgmstream.pipeline.stage.StageTestKit.countByKey;
import static dev.mgmstream.pipeline.stage.StageTestKit.readAll;
import static dev.mgmstream.pipeline.stage.StageTestKit.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * The stage runtime on the failure paths a cluster sees every week, each fault injected at the client
 * boundary ({@link FaultyClients}) on the in-process broker: whatever fails, every input ends with
 * exactly one committed output, and the stage goes on.
 */
class StageFailurePathsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @Test
    void aCommitThatFailsDuringRevocationDoesNotSkipThePartitionsKept() throws Exception {
        Map<String, String> inputs = inputs("rv", 2_400);
        StageTestKit.createTopics(4, "rv-in", "rv-out", "rv-dlq");
        produceOneByOne("rv-in", inputs);
        FaultyClients faults = new FaultyClients();
        AtomicInteger committed = new AtomicInteger();
        // Slow batches, so that one is computing (over every partition) when the second member arrives; slower
        // still once it is on its way, so that the first has not finished everything before it has joined.
        AtomicBoolean joining = new AtomicBoolean();
        OutputTopic<String, String> out = topic("rv-out");
        StageDefinition<String, String> definition = definition("rv", batch -> {
            Thread.sleep(joining.get() ? 400 : 150);
            return copies(batch, out);
        });
        // Small fetches, so that every batch holds records of every partition: some revoked, some kept.
        String[] spanning = {"stage.batch.max.size", "48", "kafka.consumer.max.partition.fetch.bytes", "256"};
        try (Stage<String, String> first = start(definition, "a", faults, committed, spanning)) {
            await().atMost(PATIENCE).until(() -> committed.get() >= 200);
            faults.failRevocationCommits.set(1);
            joining.set(true);
            try (Stage<String, String> second = start(definition, "b", ClientFactory.KAFKA, committed, spanning)) {
                await().atMost(PATIENCE).untilAtomic(faults.faultsInjected, org.hamcrest.Matchers.equalTo(1));
                awaitExactlyOnce("rv-out", inputs);
            }
        }
        assertThat(faults.faultsInjected).as("a revocation's commit failed").hasValue(1);
    }

    @Test
    void aRewindWhoseOffsetLookupFailsIsTriedAgainBeforeAnythingIsRead() {
        Map<String, String> inputs = inputs("rw", 300);
        StageTestKit.createTopics(2, "rw-in", "rw-out", "rw-dlq");
        StageTestKit.produceStrings("rw-in", inputs);
        FaultyClients faults = new FaultyClients();
        AtomicBoolean failedOnce = new AtomicBoolean();
        OutputTopic<String, String> out = topic("rw-out");
        StageDefinition<String, String> definition = definition("rw", batch -> {
            if (failedOnce.compareAndSet(false, true)) {
                // the coordinator is away for the rewind that follows, and for its first retry
                faults.failCommittedLookups.set(2);
                throw new TransientBatchException("injected: the accelerator is busy");
            }
            return copies(batch, out);
        });
        try (Stage<String, String> stage = start(definition, "a", faults, new AtomicInteger(),
                "stage.batch.retries", "0")) {
            awaitExactlyOnce("rw-out", inputs);
        }
        assertThat(faults.faultsInjected).hasValue(2);
    }

    @Test
    void aCommitWhoseAcknowledgementTimesOutIsRetriedAsTheClientRequires() {
        Map<String, String> inputs = inputs("ct", 400);
        StageTestKit.createTopics(2, "ct-in", "ct-out", "ct-dlq");
        StageTestKit.produceStrings("ct-in", inputs);
        FaultyClients faults = new FaultyClients();
        AtomicInteger committed = new AtomicInteger();
        StageDefinition<String, String> definition = copying("ct", Duration.ZERO);
        faults.timeOutAfterCommit.set(2);
        try (Stage<String, String> stage = start(definition, "a", faults, committed, "stage.batch.max.size", "32")) {
            awaitExactlyOnce("ct-out", inputs);
            assertThat(stage.state()).isEqualTo(Stage.State.RUNNING);
        }
        assertThat(faults.faultsInjected).hasValue(2);
    }

    @Test
    void aBatchThatOverrunsItsTimeoutIsAbandonedAndReadAgain() {
        Map<String, String> inputs = inputs("wd", 200);
        StageTestKit.createTopics(1, "wd-in", "wd-out", "wd-dlq");
        StageTestKit.produceStrings("wd-in", inputs);
        CountDownLatch never = new CountDownLatch(1);
        AtomicBoolean hung = new AtomicBoolean();
        OutputTopic<String, String> out = topic("wd-out");
        StageDefinition<String, String> definition = definition("wd", batch -> {
            if (hung.compareAndSet(false, true)) {
                never.await(); // a device that does not answer, until interrupted
            }
            return copies(batch, out);
        });
        try (Stage<String, String> stage = start(definition, "a", ClientFactory.KAFKA, new AtomicInteger(),
                "stage.batch.timeout.ms", "2000")) {
            awaitExactlyOnce("wd-out", inputs);
        }
        assertThat(hung).isTrue();
    }

    @Test
    void aBatchDeafToInterruptsStopsTheStageSoThatAnotherInstanceTakesItsPartitions() throws Exception {
        Map<String, String> inputs = inputs("wx", 200);
        StageTestKit.createTopics(2, "wx-in", "wx-out", "wx-dlq");
        StageTestKit.produceStrings("wx-in", inputs);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean wedged = new AtomicBoolean();
        OutputTopic<String, String> out = topic("wx-out");
        StageDefinition<String, String> definition = definition("wx", batch -> {
            if (wedged.compareAndSet(false, true)) {
                // Stuck as native inference can be: deaf to interrupts. No other batch may enter the
                // model meanwhile, so the stage gives its partitions up instead.
                while (release.getCount() > 0) {
                    try {
                        release.await();
                    } catch (InterruptedException ignored) {
                        // keeps hanging
                    }
                }
            }
            return copies(batch, out);
        });
        try (Stage<String, String> first = start(definition, "a", ClientFactory.KAFKA, new AtomicInteger(),
                "stage.batch.timeout.ms", "2000")) {
            await().atMost(PATIENCE).until(() -> first.state() == Stage.State.FAILED);
            assertThat(first.workersStopped()).as("its models must stay open").isFalse();
            try (Stage<String, String> second = start(definition, "b", ClientFactory.KAFKA, new AtomicInteger())) {
                awaitExactlyOnce("wx-out", inputs);
            }
        } finally {
            release.countDown();
        }
    }

    @Test
    void aRejectedInputNearTheSizeLimitGetsADeadLetterThatFits() {
        StageTestKit.createTopics(1, "big-in", "big-out", "big-dlq");
        byte[] huge = "x".repeat(19_900).getBytes(StandardCharsets.UTF_8);
        List<Map.Entry<String, byte[]>> records = new ArrayList<>();
        records.add(Map.entry("huge", huge));
        for (int i = 0; i < 20; i++) {
            records.add(Map.entry("small-" + i, ("v" + i).getBytes(StandardCharsets.UTF_8)));
        }
        StageTestKit.produce("big-in", records);
        OutputTopic<String, String> out = topic("big-out");
        StageDefinition<String, String> definition = definition("big", batch -> batch.stream().<Emitted>map(
                in -> in.key().equals("huge")
                ? Reject.of(in, new IllegalArgumentException("too much to say: " + "y".repeat(10_000)))
                : Output.of(in, out, in.key(), in.value())).toList());
        AtomicInteger committed = new AtomicInteger();
        try (Stage<String, String> stage = start(definition, "a", ClientFactory.KAFKA, committed,
                "kafka.producer.max.request.size", "20000")) {
            await().atMost(PATIENCE).until(() -> committed.get() >= 21);
        }
        assertThat(readAll("big-out", true)).hasSize(20);
        List<ConsumerRecord<String, byte[]>> dead = readAll("big-dlq", true);
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).key()).isEqualTo("huge");
        assertThat(dead.get(0).value()).isNull();
        assertThat(text(dead.get(0).headers().lastHeader("mgm.error.value.dropped.bytes").value())).isEqualTo("19900");
        assertThat(text(dead.get(0).headers().lastHeader("mgm.error.message").value())).hasSizeLessThan(5_000);
    }

    /** One record per producer batch (each send waited for), so that a fetch can stop after any record. */
    private static void produceOneByOne(String topic, Map<String, String> records) throws Exception {
        try (org.apache.kafka.clients.producer.KafkaProducer<String, String> producer =
                     new org.apache.kafka.clients.producer.KafkaProducer<>(Map.of("bootstrap.servers",
                             StageTestKit.bootstrap()), new StringSerializer(), new StringSerializer())) {
            for (Map.Entry<String, String> r : records.entrySet()) {
                producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, r.getKey(), r.getValue()))
                        .get();
            }
        }
    }

    static Map<String, String> inputs(String prefix, int n) {
        Map<String, String> inputs = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            inputs.put(String.format("%s-%05d", prefix, i), "payload-" + i);
        }
        return inputs;
    }

    private static OutputTopic<String, String> topic(String name) {
        return new OutputTopic<>(name, new StringSerializer(), new StringSerializer());
    }

    private static List<Emitted> copies(List<InputRecord<String, String>> batch, OutputTopic<String, String> out) {
        return batch.stream().<Emitted>map(in -> Output.of(in, out, in.key(), "out:" + in.value())).toList();
    }

    private static StageDefinition<String, String> copying(String name, Duration perBatch) {
        OutputTopic<String, String> out = topic(name + "-out");
        return definition(name, batch -> {
            Thread.sleep(perBatch.toMillis());
            return copies(batch, out);
        });
    }

    /** A stage reading {@code <name>-in}, dead-lettering to {@code <name>-dlq}. */
    private static StageDefinition<String, String> definition(String name, BatchFunction<String, String> fn) {
        return StageDefinition.<String, String>builder(name)
                .setInput(List.of(name + "-in"), new StringDeserializer(), new StringDeserializer())
                .setDeadLetterTopic(name + "-dlq")
                .setBatchFunction(fn)
                .build();
    }

    static Stage<String, String> start(StageDefinition<String, String> definition, String instance,
                                       ClientFactory clients, AtomicInteger committed, String... more) {
        List<String> kv = new ArrayList<>(List.of(
                "stage.instance.id", instance,
                "stage.batch.max.size", "64",
                "stage.batch.linger.ms", "10",
                "stage.batch.timeout.ms", "20000",
                "stage.commit.timeout.ms", "20000",
                "stage.batch.retry.backoff.ms", "20",
                "stage.batch.retry.backoff.max.ms", "200"));
        for (int i = 0; i < more.length; i += 2) {
            int at = kv.indexOf(more[i]);
            if (at >= 0 && at % 2 == 0) {
                kv.set(at + 1, more[i + 1]);
            } else {
                kv.add(more[i]);
                kv.add(more[i + 1]);
            }
        }
        StageSettings settings = StageSettings.from(definition.name(), StageTestKit.settings(kv.toArray(String[]::new)));
        StageListener count = new StageListener() {
            @Override
            public void afterCommit(int inputs, int records) {
                committed.addAndGet(inputs);
            }
        };
        return Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry(), count, clients));
    }

    /** Waits until the committed outputs name every input, then checks none is there twice. */
    static void awaitExactlyOnce(String topic, Map<String, String> inputs) {
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                .until(() -> countByKey(readAll(topic, true)).keySet().containsAll(inputs.keySet()));
        Map<String, Long> perKey = countByKey(readAll(topic, true));
        assertThat(perKey).as("every input has an output").containsOnlyKeys(inputs.keySet());
        assertThat(perKey.values()).as("no input has two").containsOnly(1L);
    }
}
