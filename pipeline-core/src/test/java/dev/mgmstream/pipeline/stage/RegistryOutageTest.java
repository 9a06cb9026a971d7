package dev.mgmstream.pipeline.stage;

import static dev.mgmstream.pipeline.stage.StageTestKit.readAll;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.registry.RegistryServerConfig;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroDeserializer;
import dev.mgmstream.schemas.serde.AvroSerializer;
import dev.mgmstream.schemas.serde.SerdeConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * A schema registry that goes away while a stage reads Avro: the records wait for it to come back, none
 * is dead-lettered as if it were bad input. The registry is the real in-process one, stopped and started
 * again on the same port over the same schemas topic.
 */
class RegistryOutageTest {

    @Test
    void recordsReadWhileTheRegistryIsDownWaitForItInsteadOfGoingToTheDeadLetterTopic() throws Exception {
        String schemas = "_schemas-" + UUID.randomUUID();
        int port = freePort();
        RegistryServerConfig registryConfig = RegistryServerConfig.of(StageTestKit.bootstrap(), port).withTopic(schemas);
        StageTestKit.createTopics(2, "ro-in", "ro-out", "ro-dlq");
        Map<String, String> inputs = new LinkedHashMap<>();
        try (InProcessSchemaRegistry registry = InProcessSchemaRegistry.start(registryConfig);
             SchemaRegistryClient writerClient = client(registry.url())) {
            AvroSerializer<Answer> serializer = new AvroSerializer<>(writerClient, SerdeConfig.defaults(), false);
            List<Map.Entry<String, byte[]>> records = new java.util.ArrayList<>();
            for (int i = 0; i < 50; i++) {
                String id = "task-" + i;
                inputs.put(id, id);
                records.add(Map.entry(id, serializer.serialize("ro-in", Answer.newBuilder().setTaskId(id)
                        .setStatus(AnswerStatus.OK).setText("answer " + i).build())));
            }
            StageTestKit.produce("ro-in", records);
        }

        // The stage's client has never seen the schema: its first record needs the registry, which is down.
        try (SchemaRegistryClient readerClient = client("http://localhost:" + port)) {
            OutputTopic<String, String> out = new OutputTopic<>("ro-out", new StringSerializer(), new StringSerializer());
            StageDefinition<String, Answer> definition = StageDefinition.<String, Answer>builder("ro")
                    .setInput(List.of("ro-in"), new StringDeserializer(), AvroDeserializer.specific(readerClient, Answer.class))
                    .setDeadLetterTopic("ro-dlq")
                    .setBatchFunction(batch -> batch.stream().<Emitted>map(in -> Output.of(in, out, in.key(),
                            in.value().getTaskId())).toList())
                    .build();
            AtomicInteger committed = new AtomicInteger();
            StageSettings settings = StageSettings.from("ro", StageTestKit.settings(
                    "stage.instance.id", "a", "stage.batch.linger.ms", "10",
                    "stage.batch.retry.backoff.ms", "50", "stage.batch.retry.backoff.max.ms", "400"));
            StageListener count = new StageListener() {
                @Override
                public void afterCommit(int in, int records) {
                    committed.addAndGet(in);
                }
            };
            try (Stage<String, Answer> stage = Stage.start(new Stage<>(definition, settings,
                    new io.micrometer.core.instrument.simple.SimpleMeterRegistry(), count))) {
                Thread.sleep(3_000); // several rounds of retries against the missing registry
                assertThat(committed).as("nothing committed, so nothing dead-lettered, while the registry is down")
                        .hasValue(0);
                try (InProcessSchemaRegistry back = InProcessSchemaRegistry.start(registryConfig)) {
                    StageFailurePathsTest.awaitExactlyOnce("ro-out", inputs);
                }
            }
        }
        assertThat(readAll("ro-dlq", true)).isEmpty();
    }

    private static SchemaRegistryClient client(String url) {
        return HttpSchemaRegistryClient.fromConfig(Map.of("schema.registry.url", url, "schema.registry.retries", "0"));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
