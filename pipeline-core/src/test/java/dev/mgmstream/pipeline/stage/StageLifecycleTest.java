package dev.mgmstream.pipeline.stage;

import static dev.mgmstream.pipeline.stage.StageTestKit.countByKey;
import static dev.mgmstream.pipeline.stage.StageTestKit.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** Slow batches, graceful stops and fencing: the member stays, leaves, or yields as it should. */
class StageLifecycleTest {

    @Test
    void aBatchSlowerThanMaxPollIntervalKeepsGroupMembership() {
        StageTestKit.createTopics(1, "slow-in", "slow-out", "slow-dlq");
        StageTestKit.produceStrings("slow-in", inputs(10));
        AtomicInteger calls = new AtomicInteger();
        StageDefinition<String, String> definition = copyStage("slow", batch -> {
            if (calls.incrementAndGet() == 1) {
                Thread.sleep(4_000);
            }
            return copy(batch, "slow-out");
        });
        // 1.5 s between polls would get a blocking consumer thrown out during the 4 s batch.
        StageSettings settings = StageSettings.from("slow", StageTestKit.settings(
                "stage.batch.max.size", "5", "stage.batch.linger.ms", "0",
                "kafka.consumer.max.poll.interval.ms", "1500",
                "stage.static.membership", "false"));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Stage<String, String> stage = Stage.start(new Stage<>(definition, settings, registry))) {
            await().atMost(Duration.ofSeconds(60)).until(() -> readAll("slow-out", true).size() == 10);
            assertThat(stage.state()).isEqualTo(Stage.State.RUNNING);
        }
        assertThat(calls.get()).as("no batch was computed twice, as it would be after losing the group")
                .isEqualTo(2);
        assertThat(registry.get("mgm.stage.transactions.aborted").counter().count()).isZero();
        assertThat(countByKey(readAll("slow-out", true)).values()).containsOnly(1L);
    }

    @Test
    void stoppingDuringABatchCommitsItThenLeaves() throws Exception {
        StageTestKit.createTopics(1, "stop-in", "stop-out", "stop-dlq");
        StageTestKit.produceStrings("stop-in", inputs(8));
        CountDownLatch computing = new CountDownLatch(1);
        StageDefinition<String, String> definition = copyStage("stop", batch -> {
            computing.countDown();
            Thread.sleep(1_000);
            return copy(batch, "stop-out");
        });
        StageSettings settings = StageSettings.from("stop", StageTestKit.settings(
                "stage.batch.max.size", "8", "stage.batch.linger.ms", "0"));
        Stage<String, String> stage = Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry()));
        assertThat(computing.await(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        stage.close();

        assertThat(stage.state()).isEqualTo(Stage.State.STOPPED);
        assertThat(readAll("stop-out", true)).hasSize(8);
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", StageTestKit.bootstrap()))) {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets("stop")
                    .partitionsToOffsetAndMetadata().get();
            assertThat(offsets.get(new TopicPartition("stop-in", 0)).offset()).isEqualTo(8);
            assertThat(admin.describeConsumerGroups(List.of("stop")).all().get().get("stop").members())
                    .as("left the group on a clean stop").isEmpty();
        }
    }

    @Test
    void aSecondInstanceWithTheSameIdentityFencesTheFirstWhichStopsCleanly() {
        StageTestKit.createTopics(1, "fence-in", "fence-out", "fence-dlq");
        StageTestKit.produceStrings("fence-in", inputs(20));
        StageDefinition<String, String> definition = copyStage("fence", batch -> copy(batch, "fence-out"));
        StageSettings settings = StageSettings.from("fence", StageTestKit.settings(
                "stage.batch.max.size", "4", "stage.batch.linger.ms", "0", "stage.instance.id", "same"));
        Stage<String, String> first = Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry()));
        await().atMost(Duration.ofSeconds(60)).until(() -> readAll("fence-out", true).size() == 20);

        try (Stage<String, String> second = Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry()))) {
            StageTestKit.produceStrings("fence-in", Map.of("late", "x"));
            await().atMost(Duration.ofSeconds(60)).until(() -> first.state() == Stage.State.FAILED);
            assertThat(first.failure()).get().satisfies(f -> assertThat(f)
                    .isInstanceOfAny(ProducerFencedException.class, FencedInstanceIdException.class,
                            org.apache.kafka.common.KafkaException.class));
            await().atMost(Duration.ofSeconds(60)).until(() -> readAll("fence-out", true).size() == 21);
            assertThat(second.state()).isEqualTo(Stage.State.RUNNING);
        } finally {
            first.close();
        }
        assertThat(countByKey(readAll("fence-out", true)).values()).containsOnly(1L);
    }

    private static Map<String, String> inputs(int n) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            m.put("k" + i, "v" + i);
        }
        return m;
    }

    private static StageDefinition<String, String> copyStage(String name, BatchFunction<String, String> fn) {
        return StageDefinition.<String, String>builder(name)
                .setInput(List.of(name + "-in"), new StringDeserializer(), new StringDeserializer())
                .setDeadLetterTopic(name + "-dlq")
                .setBatchFunction(fn)
                .build();
    }

    private static List<Emitted> copy(List<InputRecord<String, String>> batch, String topic) {
        OutputTopic<String, String> out = new OutputTopic<>(topic, new StringSerializer(), new StringSerializer());
        return batch.stream().<Emitted>map(in -> Output.of(in, out, in.key(), in.value())).toList();
    }
}
