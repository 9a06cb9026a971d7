package dev.mgmstream.pipeline.bench;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import dev.mgmstream.devkit.kafka.EmbeddedKafka;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageDefinition;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.pipeline.stage.StageSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The stage runtime's own cost, with a batch function that does nothing but pass each input on:
 * records per second at batch size 1 and 64 on the in-process broker, per-record overhead, and the
 * ratio between the two, all from the same run. Not a test: numbers depend on the machine.
 *
 * <p>Timing starts at the first commit, so group joining and JIT warm-up of the first batch are left
 * out; it ends at the commit that covers the last input.
 */
public final class RuntimeOverheadBenchmark {

    private static final int VALUE_BYTES = 100;

    public static void main(String[] args) throws Exception {
        int smallCount = args.length > 0 ? Integer.parseInt(args[0]) : 3_000;
        int largeCount = args.length > 1 ? Integer.parseInt(args[1]) : 60_000;
        try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults())) {
            String bootstrap = kafka.bootstrapServers();
            warmUp(bootstrap);
            double perSecond1 = run(bootstrap, "b1", 1, smallCount);
            double perSecond64 = run(bootstrap, "b64", 64, largeCount);
            System.out.printf("%nRuntime overhead, no-op batch function, %d-byte values, in-process broker%n",
                    VALUE_BYTES);
            System.out.printf("batch size  1: %,10.0f records/s  %8.1f us/record  (%d records)%n", perSecond1,
                    1e6 / perSecond1, smallCount);
            System.out.printf("batch size 64: %,10.0f records/s  %8.1f us/record  (%d records)%n", perSecond64,
                    1e6 / perSecond64, largeCount);
            System.out.printf("ratio (64 / 1): %.1fx%n", perSecond64 / perSecond1);
        }
    }

    private static void warmUp(String bootstrap) throws Exception {
        run(bootstrap, "warm", 16, 5_000);
    }

    private static double run(String bootstrap, String name, int batchSize, int count) throws Exception {
        String in = name + "-in";
        String outName = name + "-out";
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(in, Optional.of(1), Optional.empty()),
                    new NewTopic(outName, Optional.of(1), Optional.empty()),
                    new NewTopic(name + "-dlq", Optional.of(1), Optional.empty()))).all().get();
        }
        byte[] value = new byte[VALUE_BYTES];
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap,
                "linger.ms", 10), new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(in, "k" + i, value));
            }
        }
        OutputTopic<String, byte[]> out = new OutputTopic<>(outName, new StringSerializer(), new ByteArraySerializer());
        StageDefinition<String, byte[]> definition = StageDefinition.<String, byte[]>builder(name)
                .setInput(List.of(in), new StringDeserializer(), new ByteArrayDeserializer())
                .setDeadLetterTopic(name + "-dlq")
                .setBatchFunction(batch -> batch.stream().<Emitted>map(r -> Output.of(r, out, r.key(), r.value()))
                        .toList())
                .build();
        StageSettings settings = StageSettings.from(name, Map.of("bootstrap.servers", bootstrap,
                "stage.batch.max.size", String.valueOf(batchSize), "stage.batch.linger.ms", "5"));
        AtomicLong firstCommit = new AtomicLong();
        AtomicInteger afterFirst = new AtomicInteger();
        AtomicInteger total = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(1);
        AtomicLong lastCommit = new AtomicLong();
        StageListener timing = new StageListener() {
            @Override
            public void afterCommit(int inputs, int records) {
                long now = System.nanoTime();
                if (firstCommit.get() == 0) {
                    firstCommit.set(now);
                } else {
                    afterFirst.addAndGet(inputs);
                }
                if (total.addAndGet(inputs) >= count) {
                    lastCommit.set(now);
                    done.countDown();
                }
            }
        };
        try (Stage<String, byte[]> stage = Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry(),
                timing))) {
            if (!done.await(10, TimeUnit.MINUTES)) {
                throw new IllegalStateException("benchmark " + name + " did not finish");
            }
        }
        double seconds = Duration.ofNanos(lastCommit.get() - firstCommit.get()).toNanos() / 1e9;
        return afterFirst.get() / seconds;
    }
}
