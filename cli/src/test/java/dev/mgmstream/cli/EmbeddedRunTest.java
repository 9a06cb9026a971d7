package dev.mgmstream.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.lake.LakeSettings;
import dev.mgmstream.lake.LakeTable;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code mgm run --embedded} end to end, in-process: 200 synthetic tasks of every kind (taken from the
 * answer key of the bundled scenes) and 4 broken images, through the real broker, registry, encoders,
 * reasoning and sink with the bundled model.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EmbeddedRunTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int TASKS = 200;
    private static final int BROKEN = 4;

    @TempDir
    static Path dir;

    private Map<String, JsonNode> inputs;
    private Map<String, JsonNode> results;
    private int exitCode;
    private String stderr;

    @BeforeAll
    void runTheTasks() throws IOException {
        inputs = writeTasks(dir);
        Path output = dir.resolve("results.jsonl");
        Object[] r = MgmTest.mgm("run", "--embedded", "--input", dir.resolve("tasks.jsonl").toString(),
                "--output", output.toString(), "--lake", dir.resolve("lake").toString(), "--timeout", "10m");
        exitCode = (int) r[0];
        stderr = (String) r[2];
        results = new LinkedHashMap<>();
        for (String line : Files.readAllLines(output)) {
            JsonNode n = JSON.readTree(line);
            assertThat(results.put(n.get("task_id").asText(), n)).as("a second result for " + n).isNull();
        }
    }

    /** 196 tasks from the scenes' answer key (every kind, seeded choice) and 4 broken images. */
    static Map<String, JsonNode> writeTasks(Path dir) throws IOException {
        Path scenes = Home.samples().resolve("scenes");
        List<JsonNode> key = new ArrayList<>();
        for (String line : Files.readAllLines(scenes.resolve("answers.jsonl"))) {
            key.add(JSON.readTree(line));
        }
        Collections.shuffle(key, new Random(20));
        List<JsonNode> chosen = new ArrayList<>();
        for (String kind : List.of("caption", "generate")) {
            key.stream().filter(k -> k.get("kind").asText().equals(kind)).limit(24).forEach(chosen::add);
        }
        key.stream().filter(k -> k.get("kind").asText().equals("vqa")).limit(TASKS - BROKEN - chosen.size())
                .forEach(chosen::add);

        Path broken = Files.createDirectories(dir.resolve("broken"));
        byte[] png = Files.readAllBytes(scenes.resolve("scene-01.png"));
        Files.write(broken.resolve("truncated.png"), java.util.Arrays.copyOf(png, png.length / 3));
        Files.write(broken.resolve("empty.png"), new byte[0]);
        byte[] noise = new byte[5000];
        new Random(1).nextBytes(noise);
        Files.write(broken.resolve("noise.jpg"), noise);
        Files.writeString(broken.resolve("text.png"), "this is not an image\n");

        Map<String, JsonNode> tasks = new LinkedHashMap<>();
        int n = 0;
        for (JsonNode k : chosen) {
            ObjectNode t = JSON.createObjectNode();
            t.put("task_id", "syn-" + (++n));
            t.put("image", scenes.resolve(k.get("image").asText()).toString());
            t.put("kind", k.get("kind").asText());
            t.put("prompt", k.get("prompt").asText());
            t.putObject("attributes").put("expected", k.get("answer").asText()).put("template", k.get("template").asText());
            tasks.put(t.get("task_id").asText(), t);
        }
        for (String name : List.of("truncated.png", "empty.png", "noise.jpg", "text.png")) {
            ObjectNode t = JSON.createObjectNode();
            t.put("task_id", "broken-" + name);
            t.put("image", "broken/" + name);
            t.put("kind", "vqa");
            t.put("prompt", "What shape is at the center?");
            t.putObject("attributes").put("broken", "true");
            tasks.put(t.get("task_id").asText(), t);
        }
        List<String> lines = new ArrayList<>();
        for (JsonNode t : tasks.values()) {
            lines.add(JSON.writeValueAsString(t));
        }
        Files.write(dir.resolve("tasks.jsonl"), lines);
        assertThat(tasks).hasSize(TASKS);
        return tasks;
    }

    @Test
    void everyTaskHasExactlyOneResultAndTheRunSucceeds() {
        assertThat(exitCode).as(stderr).isZero();
        assertThat(results.keySet()).isEqualTo(inputs.keySet());
        for (JsonNode r : results.values()) {
            JsonNode in = inputs.get(r.get("task_id").asText());
            assertThat(r.get("kind").asText()).isEqualTo(in.get("kind").asText());
            assertThat(r.get("prompt").asText()).isEqualTo(in.get("prompt").asText());
            assertThat(r.get("image").asText()).isEqualTo(in.get("image").asText());
            assertThat(r.get("status").asText()).isIn("ok", "rejected", "failed");
            assertThat(r.has("latency_ms")).isTrue();
        }
        assertThat(stderr).contains("200 tasks, 200 results");
    }

    @Test
    void eachBrokenImageIsRejectedWithAReason() {
        List<JsonNode> broken = results.values().stream()
                .filter(r -> r.get("task_id").asText().startsWith("broken-")).toList();
        assertThat(broken).hasSize(BROKEN).allSatisfy(r -> {
            assertThat(r.get("status").asText()).as(r.toString()).isEqualTo("rejected");
            assertThat(r.get("reason").asText()).isNotBlank();
        });
        assertThat(results.values().stream().filter(r -> !r.get("task_id").asText().startsWith("broken-"))
                .map(r -> r.get("status").asText())).doesNotContain("rejected");
    }

    @Test
    void theLakeHoldsOneRowPerTaskWithItsAttributes() throws IOException {
        LakeSettings lake = LakeSettings.from(Map.of("lake.warehouse", dir.resolve("lake").toString()));
        Map<String, Record> rows = new HashMap<>();
        try (LakeTable table = LakeTable.open(lake);
             CloseableIterable<Record> it = IcebergGenerics.read(table.table()).build()) {
            for (Record r : it) {
                assertThat(rows.put((String) r.getField("task_id"), r.copy())).isNull();
            }
        }
        assertThat(rows.keySet()).isEqualTo(inputs.keySet());
        Record one = rows.get("syn-1");
        assertThat(one.getField("kind")).isEqualTo(inputs.get("syn-1").get("kind").asText());
        assertThat(((Map<?, ?>) one.getField("attributes")).get("expected"))
                .isEqualTo(inputs.get("syn-1").get("attributes").get("expected").asText());
        assertThat(rows.get("broken-empty.png").getField("status")).isEqualTo("rejected");
    }

    @Test
    void atLeast95PercentOfTheValidVqaAnswersAreRight() throws IOException {
        List<JsonNode> vqa = inputs.values().stream()
                .filter(t -> t.get("kind").asText().equals("vqa") && !t.get("task_id").asText().startsWith("broken-"))
                .toList();
        long right = vqa.stream().filter(t -> t.get("attributes").get("expected").asText().trim()
                .equals(results.get(t.get("task_id").asText()).path("answer").asText().trim())).count();
        Set<String> wrong = vqa.stream().filter(t -> !t.get("attributes").get("expected").asText().trim()
                        .equals(results.get(t.get("task_id").asText()).path("answer").asText().trim()))
                .map(t -> t.get("prompt").asText() + " -> " + results.get(t.get("task_id").asText()).path("answer"))
                .collect(Collectors.toSet());
        assertThat(right).as("wrong: " + wrong).isGreaterThanOrEqualTo((long) Math.ceil(0.95 * vqa.size()));
    }
}
