package dev.mgmstream.pipeline.stage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * An output larger than the producer may send is its input's failure alone: the input is
 * dead-lettered with the reason and the rest of the batch is written. Handed to the producer, the
 * record would fail the transaction, and the batch would be retried with it forever.
 */
class OversizedOutputTest {

    static final int LIMIT = 4000;
    static final OutputTopic<String, byte[]> OUT = new OutputTopic<>("out", new StringSerializer(),
            new ByteArraySerializer());

    /** Input "big:N" makes an output of N bytes; anything else a small one. */
    static final BatchFunction<String, String> FN = batch -> {
        List<Emitted> out = new ArrayList<>();
        for (InputRecord<String, String> in : batch) {
            int n = in.value().startsWith("big:") ? Integer.parseInt(in.value().split(":")[1]) : 10;
            out.add(Output.of(in, OUT, in.key(), new byte[n]));
        }
        return out;
    };

    private static BatchProcessor<String, String> processor() {
        StageDefinition<String, String> def = StageDefinition.<String, String>builder("t")
                .setInput(List.of("in"), new StringDeserializer(), new StringDeserializer())
                .setBatchFunction(FN)
                .setDeadLetterTopic("dlq.t")
                .build();
        BatchExecutor<String, String> executor = new BatchExecutor<>(FN, 0, Duration.ofMillis(1), Duration.ofMillis(1),
                d -> { });
        return new BatchProcessor<>(def, executor, Clock.systemUTC(), LIMIT);
    }

    private static List<ConsumerRecord<byte[], byte[]>> inputs(String... values) {
        List<ConsumerRecord<byte[], byte[]>> in = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            in.add(new ConsumerRecord<>("in", 0, i, ("k" + i).getBytes(StandardCharsets.UTF_8),
                    values[i].getBytes(StandardCharsets.UTF_8)));
        }
        return in;
    }

    private static String header(ProducerRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(BatchProcessor.HEADER_PREFIX + name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    void anOversizedOutputDeadLettersItsInputOnly() throws Exception {
        Prepared p = processor().process(inputs("a", "big:" + (2 * LIMIT), "b"));
        List<ProducerRecord<byte[], byte[]>> out = p.records();
        assertThat(out).extracting(ProducerRecord::topic).containsExactly("out", "dlq.t", "out");
        ProducerRecord<byte[], byte[]> dead = out.get(1);
        assertThat(header(dead, "class")).isEqualTo(RecordTooLargeException.class.getName());
        assertThat(header(dead, "message")).contains("max.request.size of " + LIMIT).contains("out");
        assertThat(header(dead, "source.offset")).isEqualTo("1");
        assertThat(p.rejected()).isEqualTo(1);
        assertThat(p.outputs()).isEqualTo(2);
        for (ProducerRecord<byte[], byte[]> r : out) {
            assertThat(BatchProcessor.size(r)).isLessThanOrEqualTo(LIMIT);
        }
    }

    @Test
    void anInputTooLargeToCopyIsDeadLetteredByItsCoordinates() throws Exception {
        String huge = "big:" + (2 * LIMIT) + ":" + "x".repeat(LIMIT);
        Prepared p = processor().process(inputs(huge));
        ProducerRecord<byte[], byte[]> dead = p.records().get(0);
        assertThat(dead.topic()).isEqualTo("dlq.t");
        assertThat(dead.value()).isNull();   // the default encoder writes the original bytes: left out here
        assertThat(header(dead, "message")).contains("left out of this record");
        assertThat(BatchProcessor.size(dead)).isLessThanOrEqualTo(LIMIT);
    }
}
