package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.model.official.OfficialExports;
import dev.mgmstream.model.official.OfficialExports.Task;
import dev.mgmstream.model.official.OfficialExports.Traced;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mgm run --embedded} serves an export of a checkpoint in the released Mini-Gemini layout (scaled
 * down, random weights, written at test time) through every stage, and writes the answers that the one-by-one
 * PyTorch reference on the checkpoint itself writes ({@code models/reference.py --checkpoint}), in the same
 * result format: the same status, answer text and generation prompt for every task.
 */
class OfficialCheckpointRunTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_NEW_TOKENS = 16;

    @TempDir
    Path dir;

    @Test
    void theEmbeddedPipelineAnswersAsTheReferenceOnTheCheckpoint() throws IOException {
        Path export = OfficialExports.export("gemma", "float32");
        List<Path> images;
        try (Stream<Path> s = Files.list(Home.samples().resolve("scenes"))) {
            images = s.filter(p -> p.toString().endsWith(".png")).sorted().limit(8).toList();
        }
        List<Task> tasks = new ArrayList<>();
        for (int i = 0; i < images.size(); i++) {
            tasks.add(new Task("vqa-" + i, images.get(i), "vqa", "What is in the image?"));
            tasks.add(new Task("cap-" + i, images.get(i), "caption", "Describe the image in detail."));
            tasks.add(new Task("gen-" + i, images.get(i), "generate", "Draw this scene in winter."));
        }
        Map<String, Traced> reference = OfficialExports.reference("gemma", tasks, MAX_NEW_TOKENS);
        List<String> lines = new ArrayList<>();
        for (Task t : tasks) {
            lines.add(JSON.writeValueAsString(JSON.createObjectNode().put("task_id", t.id())
                    .put("image", t.image().toString()).put("kind", t.kind()).put("prompt", t.prompt())));
        }
        Files.write(dir.resolve("tasks.jsonl"), lines);
        Path output = dir.resolve("results.jsonl");
        Object[] r = MgmTest.mgm("run", "--embedded", "--input", dir.resolve("tasks.jsonl").toString(),
                "--output", output.toString(), "--lake", dir.resolve("lake").toString(), "--timeout", "5m",
                "--set", "encoders.model.dir=" + export, "--set", "reasoning.model.dirs=" + export,
                "--set", "reasoning.generate.output=answer",
                // float32 on the wire: the float16 default rounds the visual tokens, and a random-weight model's
                // near-ties then flip a token now and then (the model-runtime parity test measures float16)
                "--set", "encoders.tokens.dtype=float32",
                "--set", "reasoning.max.new.tokens=" + MAX_NEW_TOKENS);
        assertThat(r[0]).as("exit code; stderr:\n" + r[2]).isEqualTo(0);
        Map<String, JsonNode> results = new LinkedHashMap<>();
        for (String line : Files.readAllLines(output)) {
            JsonNode n = JSON.readTree(line);
            results.put(n.get("task_id").asText(), n);
        }
        assertThat(results).hasSize(tasks.size());
        int generationPrompts = 0;
        for (Task t : tasks) {
            JsonNode want = reference.get(t.id()).result();
            JsonNode got = results.get(t.id());
            assertThat(got.path("status").asText()).as(t.id() + " status").isEqualTo(want.path("status").asText());
            assertThat(got.path("answer").asText()).as(t.id() + " answer").isEqualTo(want.path("answer").asText());
            assertThat(got.path("generation_prompt").asText()).as(t.id() + " generation prompt")
                    .isEqualTo(want.path("generation_prompt").asText());
            generationPrompts += got.path("generation_prompt").asText().isEmpty() ? 0 : 1;
        }
        System.out.println("official-layout export through mgm run: " + tasks.size() + " answers equal the reference's, "
                + generationPrompts + " with a generation prompt");
    }
}
