package dev.mgmstream.pipeline.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import dev.mgmstream.devkit.kafka.EmbeddedKafka;
import dev.mgmstream.pipeline.kafka.TopicReader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker itself goes away mid-run and comes back (same port, same data): the stage waits for it,
 * and every input still has exactly one committed output.
 */
class BrokerRestartTest {

    @TempDir
    Path data;

    @Test
    void aStageRidesOutABrokerRestartWithoutLosingOrDoublingAnything() throws Exception {
        int port = freePort();
        EmbeddedKafka.Options options = EmbeddedKafka.Options.defaults().withDataDir(data).withPort(port);
        Map<String, String> inputs = StageFailurePathsTest.inputs("br", 3_000);
        EmbeddedKafka kafka = EmbeddedKafka.start(options);
        String bootstrap = kafka.bootstrapServers();
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic("br-in", Optional.of(2), Optional.empty()),
                    new NewTopic("br-out", Optional.of(2), Optional.empty()),
                    new NewTopic("br-dlq", Optional.of(1), Optional.empty()))).all().get();
        }
        // Not idempotent: on a broker this fresh, an idempotent producer's first batch can meet a partition
        // whose leader is not yet serving and then retry for ever on OUT_OF_ORDER_SEQUENCE_NUMBER (seen here).
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap,
                "enable.idempotence", "false", "acks", "all", "max.in.flight.requests.per.connection", "1",
                "delivery.timeout.ms", "60000"), new StringSerializer(), new StringSerializer())) {
            inputs.forEach((k, v) -> producer.send(new ProducerRecord<>("br-in", k, v)));
        }

        OutputTopic<String, String> out = new OutputTopic<>("br-out", new StringSerializer(), new StringSerializer());
        StageDefinition<String, String> definition = StageDefinition.<String, String>builder("br")
                .setInput(List.of("br-in"), new StringDeserializer(), new StringDeserializer())
                .setDeadLetterTopic("br-dlq")
                .setBatchFunction(batch -> {
                    Thread.sleep(20);
                    return batch.stream().<Emitted>map(in -> Output.of(in, out, in.key(), "out:" + in.value())).toList();
                })
                .build();
        AtomicInteger committed = new AtomicInteger();
        StageSettings settings = StageSettings.from("br", Map.of("bootstrap.servers", bootstrap,
                "stage.instance.id", "a", "stage.batch.max.size", "32", "stage.batch.linger.ms", "10",
                "stage.commit.timeout.ms", "15000", "stage.batch.retry.backoff.max.ms", "1000"));
        StageListener count = new StageListener() {
            @Override
            public void afterCommit(int in, int records) {
                committed.addAndGet(in);
            }
        };
        try (Stage<String, String> stage = Stage.start(new Stage<>(definition, settings, new SimpleMeterRegistry(),
                count))) {
            await().atMost(Duration.ofSeconds(60)).until(() -> committed.get() >= 600);
            kafka.close();
            Thread.sleep(3_000); // a broker away for a while: commits and fetches fail meanwhile
            kafka = EmbeddedKafka.start(options);
            String back = kafka.bootstrapServers();
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(1)).until(() -> TopicReader.committed(
                    back, "br-out", new StringDeserializer()).stream().map(ConsumerRecord::key)
                    .collect(Collectors.toSet()).containsAll(inputs.keySet()));
            assertThat(stage.state()).isEqualTo(Stage.State.RUNNING);
        } finally {
            String after = kafka.bootstrapServers();
            Map<String, Long> perKey = TopicReader.committed(after, "br-out", new StringDeserializer()).stream()
                    .collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
            kafka.close();
            assertThat(perKey).as("every input has an output").containsOnlyKeys(inputs.keySet());
            assertThat(perKey.values()).as("no input has two").containsOnly(1L);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
