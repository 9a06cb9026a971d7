package dev.mgmstream.ingest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageDefinition;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.InlineImage;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bulk run against the in-process broker and registry, with a real stage on the stage runtime
 * standing in for the model stages: it answers each task with its prompt in upper case, and never
 * answers a task whose attributes say {@code "silent"}.
 */
class BulkRunTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private InProcessSchemaRegistry registry;
    private SchemaRegistryClient client;
    private Map<String, String> config;
    private Stage<String, ImageTask> stage;

    @BeforeEach
    void setUp() throws Exception {
        registry = InProcessSchemaRegistry.start(SharedKafka.bootstrapServers(), 0);
        config = new HashMap<>();
        config.put("bootstrap.servers", SharedKafka.bootstrapServers());
        config.put("schema.registry.url", registry.url());
        config.put("topics.prefix", "bulk-" + UUID.randomUUID().toString().substring(0, 8) + ".");
        client = HttpSchemaRegistryClient.fromConfig(config);
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            new TopicProvisioner(admin).ensure(topics.all());
        }
        OutputTopic<String, Answer> answers = new OutputTopic<>(topics.name(TopicRole.ANSWERS), new StringSerializer(),
                AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class, client, config).serializer());
        StageDefinition<String, ImageTask> echo = StageDefinition.<String, ImageTask>builder("echo")
                .setInput(List.of(topics.name(TopicRole.IMAGE_TASKS)), new StringDeserializer(),
                        AvroSerdes.valueSerde(topics.spec(TopicRole.IMAGE_TASKS), ImageTask.class, client, config)
                                .deserializer())
                .setBatchFunction(batch -> echo(batch, answers))
                .setDeadLetterTopic(topics.name(TopicRole.DLQ_ENCODERS))
                .build();
        Map<String, String> stageConfig = new HashMap<>(config);
        stageConfig.put("stage.group.id", "echo-" + UUID.randomUUID());
        stageConfig.put("stage.batch.linger.ms", "10");
        stage = Stage.start(echo, StageSettings.from("echo", stageConfig), new SimpleMeterRegistry());
    }

    private static List<Emitted> echo(List<InputRecord<String, ImageTask>> batch, OutputTopic<String, Answer> out) {
        List<Emitted> emitted = new ArrayList<>();
        for (InputRecord<String, ImageTask> in : batch) {
            ImageTask t = in.value();
            if (t.getAttributes().containsKey("silent")) {
                continue;
            }
            int bytes = ((InlineImage) t.getImage()).getData().remaining();
            emitted.add(Output.of(in, out, t.getTaskId(), Answer.newBuilder()
                    .setTaskId(t.getTaskId()).setImageId(t.getImageId()).setStatus(AnswerStatus.OK)
                    .setText(t.getPrompt().toUpperCase() + " (" + bytes + " bytes)")
                    .setKind(t.getKind()).setPrompt(t.getPrompt())
                    .setLatencies(Map.of("total", 7L)).build()));
        }
        return emitted;
    }

    @AfterEach
    void tearDown() {
        stage.close();
        client.close();
        registry.close();
    }

    private Path taskFile(String... lines) throws Exception {
        Files.createDirectories(dir.resolve("imgs"));
        Files.write(dir.resolve("imgs/a.png"), new byte[] {1, 2, 3, 4});
        return Files.write(dir.resolve("tasks.jsonl"), List.of(lines));
    }

    private Map<String, JsonNode> results(Path file) throws Exception {
        Map<String, JsonNode> byId = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            JsonNode n = JSON.readTree(line);
            assertThat(byId.put(n.get("task_id").asText(), n)).as("one result per task").isNull();
        }
        return byId;
    }

    @Test
    void everyTaskGetsExactlyOneResultAndBadLinesAreReportedByNumber() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            lines.add("{\"task_id\": \"t" + i + "\", \"image\": \"imgs/a.png\", \"kind\": \"vqa\", \"prompt\": \"q" + i + "\"}");
        }
        lines.add(3, "{\"task_id\": \"broken\", \"image\": \"imgs/a.png\", \"kind\": \"vqa\"}");
        lines.add(7, "not json at all");
        lines.add("{\"task_id\": \"gone\", \"image\": \"imgs/missing.png\", \"kind\": \"caption\"}");
        Path output = dir.resolve("out/results.jsonl");
        List<TaskFile.LineError> reported = new ArrayList<>();

        BulkRun.Summary summary = new BulkRun(config, new BulkRun.Listener() {
            @Override
            public void malformed(TaskFile.LineError error) {
                reported.add(error);
            }
        }).run(taskFile(lines.toArray(String[]::new)), output, Duration.ofSeconds(60));

        assertThat(reported).extracting(TaskFile.LineError::line).containsExactly(4, 8);
        Map<String, JsonNode> results = results(output);
        assertThat(results).hasSize(43);
        assertThat(results.get("t5").get("answer").asText()).isEqualTo("Q5 (4 bytes)");
        assertThat(results.get("t5").get("status").asText()).isEqualTo("ok");
        assertThat(results.get("t5").get("image").asText()).isEqualTo("imgs/a.png");
        assertThat(results.get("t5").get("latency_ms").asLong()).isEqualTo(7);
        assertThat(results.get("t5").get("image_id").asText()).hasSize(64);
        assertThat(results.get("broken").get("status").asText()).isEqualTo("rejected");
        assertThat(results.get("broken").get("reason").asText()).isEqualTo("line 4 of tasks.jsonl: a vqa task needs a prompt");
        assertThat(results.get("line-8").get("reason").asText()).startsWith("line 8 of tasks.jsonl: not valid JSON");
        assertThat(results.get("gone").get("reason").asText()).startsWith("image file not found: ");
        assertThat(summary.missing()).isEmpty();
        assertThat(summary.byStatus()).containsEntry("ok", 40).containsEntry("rejected", 1);
        assertThat(summary.malformed()).isEqualTo(2);
        assertThat(summary.exitCode()).isEqualTo(BulkRun.EXIT_MALFORMED);
    }

    @Test
    void aRepeatedTaskIdKeepsOneResultPerIdAndTheRepeatIsRejectedUnderItsLine() throws Exception {
        Path input = taskFile(
                "{\"task_id\": \"a\", \"image\": \"imgs/a.png\", \"kind\": \"vqa\", \"prompt\": \"first\"}",
                "{\"task_id\": \"a\", \"image\": \"imgs/a.png\", \"kind\": \"vqa\", \"prompt\": \"second\"}",
                "{\"task_id\": \"b\", \"image\": \"imgs/a.png\", \"kind\": \"vqa\"}",
                "{\"task_id\": \"b\", \"image\": \"imgs/a.png\", \"kind\": \"vqa\", \"prompt\": \"valid\"}");
        Path output = dir.resolve("results.jsonl");

        BulkRun.Summary summary = new BulkRun(config, BulkRun.Listener.NONE).run(input, output, Duration.ofSeconds(60));

        Map<String, JsonNode> results = results(output);
        assertThat(Files.readAllLines(output)).hasSize(4);
        assertThat(results).containsOnlyKeys("a", "line-2", "b", "line-4");
        assertThat(results.get("a").get("answer").asText()).isEqualTo("FIRST (4 bytes)");
        assertThat(results.get("line-2").get("status").asText()).isEqualTo("rejected");
        assertThat(results.get("line-2").get("reason").asText())
                .isEqualTo("line 2 of tasks.jsonl: task_id 'a' was already used on line 1");
        assertThat(results.get("b").get("reason").asText()).isEqualTo("line 3 of tasks.jsonl: a vqa task needs a prompt");
        assertThat(results.get("line-4").get("reason").asText())
                .isEqualTo("line 4 of tasks.jsonl: task_id 'b' was already used on line 3");
        assertThat(summary.missing()).isEmpty();
        assertThat(summary.malformed()).isEqualTo(3);
        assertThat(summary.exitCode()).isEqualTo(BulkRun.EXIT_MALFORMED);
    }

    @Test
    void tasksWithoutAnAnswerByTheTimeoutAreListedAndTheExitCodeSaysSo() throws Exception {
        Path input = taskFile(
                "{\"task_id\": \"a\", \"image\": \"imgs/a.png\", \"kind\": \"caption\"}",
                "{\"task_id\": \"quiet\", \"image\": \"imgs/a.png\", \"kind\": \"caption\", \"attributes\": {\"silent\": \"1\"}}",
                "{\"task_id\": \"b\", \"image\": \"imgs/a.png\", \"kind\": \"caption\"}");
        Path output = dir.resolve("results.jsonl");

        BulkRun.Summary summary = new BulkRun(config, BulkRun.Listener.NONE).run(input, output, Duration.ofSeconds(8));

        assertThat(summary.missing()).containsExactly("quiet");
        assertThat(summary.exitCode()).isEqualTo(BulkRun.EXIT_MISSING);
        assertThat(results(output).keySet()).containsExactlyInAnyOrder("a", "b");
        assertThat(results(output).get("a").get("answer").asText()).isEqualTo("DESCRIBE THE IMAGE. (4 bytes)");
    }

    @Test
    void exitCodes() {
        assertThat(new BulkRun.Summary(2, 0, Map.of("ok", 2), List.of(), Duration.ZERO).exitCode()).isZero();
        assertThat(new BulkRun.Summary(2, 1, Map.of("ok", 2), List.of(), Duration.ZERO).exitCode()).isEqualTo(2);
        assertThat(new BulkRun.Summary(2, 1, Map.of("ok", 1), List.of("x"), Duration.ZERO).exitCode()).isEqualTo(1);
        assertThat(new BulkRun.Summary(3, 0, Map.of("ok", 1, "rejected", 2), List.of(), Duration.ZERO).results())
                .isEqualTo(3);
    }
}
