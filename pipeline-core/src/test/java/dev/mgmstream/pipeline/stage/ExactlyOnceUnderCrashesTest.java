package dev.mgmstream.pipeline.stage;

import static dev.mgmstream.pipeline.stage.StageTestKit.countByKey;
import static dev.mgmstream.pipeline.stage.StageTestKit.readAll;
import static dev.mgmstream.pipeline.stage.StageTestKit.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * The runtime's central promise: however often a stage dies mid-batch, the committed output holds
 * exactly one output per input. Deaths are {@link SimulatedCrash} errors, after which the runtime
 * says nothing more to Kafka (no abort, no commit, no close), like a killed process; a new instance
 * with the same identity then takes over.
 */
class ExactlyOnceUnderCrashesTest {

    private static final int RECORDS = 10_000;

    /** Stands for a kill: an Error, so neither the runtime nor the batch executor may handle it. */
    static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(String where) {
            super("simulated crash " + where);
        }
    }

    @Test
    void tenThousandRecordsThroughRepeatedKillsAreWrittenExactlyOnce() {
        StageTestKit.createTopics(3, "eo-in", "eo-out", "eo-dlq");
        Map<String, String> inputs = new LinkedHashMap<>();
        for (int i = 0; i < RECORDS; i++) {
            inputs.put(String.format("id-%05d", i), "payload-" + i);
        }
        StageTestKit.produceStrings("eo-in", inputs);

        OutputTopic<String, String> out = new OutputTopic<>("eo-out", new StringSerializer(), new StringSerializer());
        AtomicInteger functionCalls = new AtomicInteger();
        AtomicInteger commitAttempts = new AtomicInteger();
        AtomicInteger committedInputs = new AtomicInteger();
        Set<Integer> crashInFunction = Set.of(12);
        Set<Integer> crashBeforeCommit = Set.of(4, 30, 55);

        StageDefinition<String, String> definition = StageDefinition.<String, String>builder("eo")
                .setInput(List.of("eo-in"), new StringDeserializer(), new StringDeserializer())
                .setDeadLetterTopic("eo-dlq")
                .setBatchFunction(batch -> {
                    if (crashInFunction.contains(functionCalls.incrementAndGet())) {
                        throw new SimulatedCrash("while computing a batch of " + batch.size());
                    }
                    return batch.stream().<Emitted>map(in -> Output.of(in, out, in.key(), "out:" + in.value())).toList();
                })
                .build();
        StageListener listener = new StageListener() {
            @Override
            public void beforeCommit(int batchInputs, int records) {
                if (crashBeforeCommit.contains(commitAttempts.incrementAndGet())) {
                    throw new SimulatedCrash("with " + records + " records in an open transaction");
                }
            }

            @Override
            public void afterCommit(int batchInputs, int records) {
                committedInputs.addAndGet(batchInputs);
            }
        };

        Map<String, Stage<String, String>> running = new ConcurrentHashMap<>();
        int kills = 0;
        List<Stage<String, String>> all = new ArrayList<>();
        try {
            running.put("a", start(definition, listener, "a", all));
            while (committedInputs.get() < RECORDS) {
                await().atMost(Duration.ofSeconds(90)).until(() -> committedInputs.get() >= RECORDS
                        || running.values().stream().anyMatch(s -> s.state() == Stage.State.HALTED));
                for (Map.Entry<String, Stage<String, String>> e : running.entrySet()) {
                    if (e.getValue().state() == Stage.State.HALTED) {
                        kills++;
                        running.put(e.getKey(), start(definition, listener, e.getKey(), all));
                    }
                }
                if (kills == 2 && !running.containsKey("b")) {
                    // A second member joins: partitions move while batches are in flight.
                    running.put("b", start(definition, listener, "b", all));
                }
            }
        } finally {
            running.values().forEach(Stage::close);
        }

        assertThat(kills).isGreaterThanOrEqualTo(3);
        assertThat(all).filteredOn(s -> s.state() == Stage.State.HALTED).hasSize(kills);
        List<ConsumerRecord<String, byte[]>> committed = readAll("eo-out", true);
        Map<String, Long> perKey = countByKey(committed);
        assertThat(perKey).as("every input has an output").containsOnlyKeys(inputs.keySet());
        assertThat(perKey.values()).as("no input has two").containsOnly(1L);
        assertThat(committed).allSatisfy(r -> assertThat(text(r.value())).isEqualTo("out:" + inputs.get(r.key())));
        assertThat(readAll("eo-dlq", true)).isEmpty();
        System.out.printf("exactly-once test: %d kills, %d commit attempts, %d uncommitted-view records%n", kills,
                commitAttempts.get(), readAll("eo-out", false).size());
    }

    private static Stage<String, String> start(StageDefinition<String, String> definition, StageListener listener,
                                               String instance, List<Stage<String, String>> all) {
        StageSettings settings = StageSettings.from("eo", StageTestKit.settings(
                "stage.instance.id", instance,
                "stage.batch.max.size", "64",
                "stage.batch.linger.ms", "10",
                "stage.batch.timeout.ms", "10000",
                "stage.commit.timeout.ms", "20000"));
        Stage<String, String> stage = Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry(), listener));
        all.add(stage);
        return stage;
    }
}
