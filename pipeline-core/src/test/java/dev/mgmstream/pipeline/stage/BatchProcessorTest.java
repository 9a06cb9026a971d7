package dev.mgmstream.pipeline.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import dev.mgmstream.schemas.registry.SchemaRegistryException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** What a batch turns into between poll and produce, without a broker: shared outputs and infrastructure faults. */
class BatchProcessorTest {

    /** Fails on the values it is told to, as a serializer fails on a record it cannot write. */
    private static final Serializer<String> PICKY = (topic, value) -> {
        if (value.startsWith("unwritable")) {
            throw new SerializationException("cannot write " + value);
        }
        if (value.startsWith("registry-down")) {
            throw new SerializationException("could not register the schema",
                    new SchemaRegistryException("no answer", -1, -1, new java.net.ConnectException("refused")));
        }
        return value.getBytes(StandardCharsets.UTF_8);
    };
    private final OutputTopic<String, String> out = new OutputTopic<>("bp-out", new StringSerializer(), PICKY);
    private final OutputTopic<String, String> answers = new OutputTopic<>("bp-answers", new StringSerializer(),
            new StringSerializer());

    @Test
    void anOutputSharedBySeveralInputsThatCannotBeWrittenRejectsEveryOneOfThem() throws Exception {
        Prepared p = process(batch -> List.of(
                Output.shared(batch.subList(0, 3), out, "image", "unwritable tokens"),
                Output.of(batch.get(3), out, "other", "fine")), 4);
        assertThat(topics(p)).containsExactly("bp-dlq", "bp-answers", "bp-dlq", "bp-answers", "bp-dlq", "bp-answers",
                "bp-out");
        assertThat(p.rejected()).isEqualTo(3);
        assertThat(answered(p)).containsExactlyInAnyOrder("k0", "k1", "k2");
    }

    @Test
    void aRejectedInputTakesTheInputsItSharesAnOutputWithAlong() throws Exception {
        Prepared p = process(batch -> List.of(
                Output.shared(batch.subList(0, 2), out, "image", "tokens"),
                Reject.of(batch.get(1), new IllegalArgumentException("bad prompt")),
                Output.of(batch.get(2), out, "other", "fine")), 3);
        // Written for input 0 alone, the shared output would also carry input 1, which is answered as rejected.
        assertThat(topics(p)).containsExactly("bp-dlq", "bp-answers", "bp-dlq", "bp-answers", "bp-out");
        assertThat(answered(p)).containsExactlyInAnyOrder("k0", "k1");
    }

    @Test
    void aRegistryThatDoesNotAnswerRetriesTheBatchInsteadOfRejectingIt() {
        assertThatThrownBy(() -> process(batch -> List.of(Output.of(batch.get(0), out, "k", "registry-down")), 2))
                .isInstanceOf(TransientBatchException.class);
        assertThatThrownBy(() -> processWith(new StringDeserializer() {
            @Override
            public String deserialize(String topic, byte[] data) {
                throw new SerializationException("could not fetch the writer schema",
                        new SchemaRegistryException("HTTP 503", 503, 50003, null));
            }
        }, batch -> List.of(), 2)).isInstanceOf(TransientBatchException.class);
    }

    @Test
    void headersTravelWithAnOutputAndBackToTheRejectionHook() throws Exception {
        Prepared p = process(batch -> List.of(Output.of(batch.get(0), out, "k", "v").withHeader("mgm.task-ids", "a,b")), 1);
        assertThat(new String(p.records().get(0).headers().lastHeader("mgm.task-ids").value(), StandardCharsets.UTF_8))
                .isEqualTo("a,b");
    }

    private Prepared process(BatchFunction<String, String> fn, int inputs) throws Exception {
        return processWith(new StringDeserializer(), fn, inputs);
    }

    private Prepared processWith(StringDeserializer values, BatchFunction<String, String> fn, int inputs)
            throws Exception {
        StageDefinition<String, String> definition = StageDefinition.<String, String>builder("bp")
                .setInput(List.of("bp-in"), new StringDeserializer(), values)
                .setBatchFunction(fn)
                .setDeadLetterTopic("bp-dlq")
                .optRejectionHook((rejected, decoded) -> List.of(new Output<>(rejected.index(), answers,
                        new String(rejected.key(), StandardCharsets.UTF_8), "rejected: " + rejected.errorMessage())))
                .build();
        BatchExecutor<String, String> executor = new BatchExecutor<>(fn, 0, Duration.ofMillis(1), Duration.ofMillis(1),
                d -> { });
        BatchProcessor<String, String> processor = new BatchProcessor<>(definition, executor, Clock.systemUTC(),
                1024 * 1024);
        List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>();
        for (int i = 0; i < inputs; i++) {
            batch.add(new ConsumerRecord<>("bp-in", 0, i, ("k" + i).getBytes(StandardCharsets.UTF_8),
                    ("v" + i).getBytes(StandardCharsets.UTF_8)));
        }
        return processor.process(batch);
    }

    private static List<String> topics(Prepared p) {
        return p.records().stream().map(ProducerRecord::topic).toList();
    }

    private static Set<String> answered(Prepared p) {
        return Set.copyOf(p.records().stream().filter(r -> r.topic().equals("bp-answers"))
                .map(r -> new String(r.key(), StandardCharsets.UTF_8)).toList());
    }
}
