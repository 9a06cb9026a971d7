package dev.mgmstream.pipeline.stage;

import static dev.mgmstream.pipeline.stage.StageTestKit.readAll;
import static dev.mgmstream.pipeline.stage.StageTestKit.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** One bad input in a batch goes to the dead-letter topic with its reason; the others go on. */
class PoisonRecordTest {

    private final OutputTopic<String, String> out = new OutputTopic<>("poison-out", new StringSerializer(),
            new StringSerializer());
    private final OutputTopic<String, String> answers = new OutputTopic<>("poison-answers", new StringSerializer(),
            new StringSerializer());

    @Test
    void aPoisonInputThatMakesTheWholeBatchThrowIsIsolatedAndDeadLettered() {
        StageTestKit.createTopics(1, "poison-in", "poison-out", "poison-dlq", "poison-answers");
        List<Map.Entry<String, byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            String value = i == 17 ? "poison" : "v" + i;
            records.add(Map.entry("task-" + i, value.getBytes(StandardCharsets.UTF_8)));
        }
        StageTestKit.produce("poison-in", records);
        List<Integer> batchSizes = new CopyOnWriteArrayList<>();

        StageDefinition<String, String> definition = definition("poison", "poison-in", "poison-dlq",
                new StringDeserializer(), batch -> {
                    batchSizes.add(batch.size());
                    if (batch.stream().anyMatch(in -> in.value().equals("poison"))) {
                        throw new IllegalArgumentException("model cannot read 'poison'");
                    }
                    return batch.stream().<Emitted>map(in -> Output.of(in, out, in.key(), in.value().toUpperCase()))
                            .toList();
                });
        AtomicInteger committed = new AtomicInteger();
        try (Stage<String, String> stage = startAndCount(definition, "poison", committed)) {
            await().atMost(Duration.ofSeconds(60)).until(() -> committed.get() >= 64);
        }

        assertThat(batchSizes.get(0)).as("the 64 inputs formed one batch").isEqualTo(64);
        List<ConsumerRecord<String, byte[]>> outputs = readAll("poison-out", true);
        assertThat(outputs).hasSize(63).noneMatch(r -> r.key().equals("task-17"));

        List<ConsumerRecord<String, byte[]>> dead = readAll("poison-dlq", true);
        assertThat(dead).hasSize(1);
        ConsumerRecord<String, byte[]> letter = dead.get(0);
        assertThat(letter.key()).isEqualTo("task-17");
        assertThat(text(letter.value())).as("original bytes kept").isEqualTo("poison");
        assertThat(header(letter, "class")).isEqualTo(IllegalArgumentException.class.getName());
        assertThat(header(letter, "message")).isEqualTo("model cannot read 'poison'");
        assertThat(header(letter, "stage")).isEqualTo("poison");
        assertThat(header(letter, "source.topic")).isEqualTo("poison-in");
        assertThat(header(letter, "source.offset")).isEqualTo("17");
        assertThat(Integer.parseInt(header(letter, "attempt"))).isGreaterThan(1);

        List<ConsumerRecord<String, byte[]>> rejected = readAll("poison-answers", true);
        assertThat(rejected).hasSize(1);
        assertThat(rejected.get(0).key()).isEqualTo("task-17");
        assertThat(text(rejected.get(0).value())).isEqualTo("rejected: model cannot read 'poison'");
    }

    @Test
    void undecodableBytesAreDeadLetteredWithoutReachingTheFunction() {
        StageTestKit.createTopics(1, "bytes-in", "bytes-out", "bytes-dlq", "bytes-answers");
        byte[] garbage = {(byte) 0xFF, 0x00, 0x13};
        StageTestKit.produce("bytes-in", List.of(
                Map.entry("ok-1", "fine".getBytes(StandardCharsets.UTF_8)),
                Map.entry("bad", garbage),
                Map.entry("ok-2", "also fine".getBytes(StandardCharsets.UTF_8))));
        Deserializer<String> strict = (topic, data) -> {
            if (data.length > 0 && data[0] == (byte) 0xFF) {
                throw new SerializationException("not a text record");
            }
            return new String(data, StandardCharsets.UTF_8);
        };
        OutputTopic<String, String> bytesOut = new OutputTopic<>("bytes-out", new StringSerializer(),
                new StringSerializer());
        List<String> seen = new CopyOnWriteArrayList<>();
        StageDefinition<String, String> definition = definition("bytes", "bytes-in", "bytes-dlq", strict, batch -> {
            batch.forEach(in -> seen.add(in.key()));
            return batch.stream().<Emitted>map(in -> Output.of(in, bytesOut, in.key(), in.value())).toList();
        });
        AtomicInteger committed = new AtomicInteger();
        try (Stage<String, String> stage = startAndCount(definition, "bytes", committed)) {
            await().atMost(Duration.ofSeconds(60)).until(() -> committed.get() >= 3);
        }
        assertThat(seen).containsExactlyInAnyOrder("ok-1", "ok-2");
        assertThat(readAll("bytes-out", true)).extracting(ConsumerRecord::key).containsExactlyInAnyOrder("ok-1", "ok-2");
        List<ConsumerRecord<String, byte[]>> dead = readAll("bytes-dlq", true);
        assertThat(dead).singleElement().satisfies(r -> {
            assertThat(r.value()).isEqualTo(garbage);
            assertThat(header(r, "class")).isEqualTo(SerializationException.class.getName());
        });
    }

    @Test
    void anOutputTooLargeToProduceIsItsInputsFailureNotTheBatchs() {
        StageTestKit.createTopics(1, "large-in", "large-out", "large-dlq", "large-answers");
        List<Map.Entry<String, byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            records.add(Map.entry("task-" + i, ("v" + i).getBytes(StandardCharsets.UTF_8)));
        }
        StageTestKit.produce("large-in", records);
        OutputTopic<String, String> largeOut = new OutputTopic<>("large-out", new StringSerializer(),
                new StringSerializer());
        // 2 MB of output for task-3, over the producer's default max.request.size of 1 MB: sent, it
        // would abort every transaction that carries it
        StageDefinition<String, String> definition = definition("large", "large-in", "large-dlq",
                new StringDeserializer(), batch -> batch.stream().<Emitted>map(in -> Output.of(in, largeOut, in.key(),
                        in.key().equals("task-3") ? "x".repeat(2 << 20) : in.value())).toList());
        AtomicInteger committed = new AtomicInteger();
        try (Stage<String, String> stage = startAndCount(definition, "large", committed)) {
            await().atMost(Duration.ofSeconds(60)).until(() -> committed.get() >= 8);
        }
        assertThat(readAll("large-out", true)).extracting(ConsumerRecord::key).hasSize(7).doesNotContain("task-3");
        assertThat(readAll("large-dlq", true)).singleElement().satisfies(r -> {
            assertThat(r.key()).isEqualTo("task-3");
            assertThat(header(r, "class")).isEqualTo(RecordTooLargeException.class.getName());
            assertThat(header(r, "message")).contains("max.request.size");
        });
    }

    private StageDefinition<String, String> definition(String name, String in, String dlq, Deserializer<String> values,
                                                       BatchFunction<String, String> fn) {
        OutputTopic<String, String> rejectedTo = name.equals("poison") ? answers
                : new OutputTopic<>(name + "-answers", new StringSerializer(), new StringSerializer());
        return StageDefinition.<String, String>builder(name)
                .setInput(List.of(in), new StringDeserializer(), values)
                .setDeadLetterTopic(dlq)
                .setBatchFunction(fn)
                .optRejectionHook((rejected, decoded) -> List.of(new Output<>(rejected.index(), rejectedTo,
                        decoded.map(InputRecord::key).orElse("unknown"), "rejected: " + rejected.errorMessage())))
                .build();
    }

    private static Stage<String, String> startAndCount(StageDefinition<String, String> definition, String name,
                                                       AtomicInteger committed) {
        StageSettings settings = StageSettings.from(name, StageTestKit.settings(
                "stage.batch.max.size", "64", "stage.batch.linger.ms", "2000"));
        return Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry(), new StageListener() {
            @Override
            public void afterCommit(int inputs, int records) {
                committed.addAndGet(inputs);
            }
        }));
    }

    private static String header(ConsumerRecord<?, ?> r, String name) {
        return text(r.headers().lastHeader(BatchProcessor.HEADER_PREFIX + name).value());
    }
}
