package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generate tasks through {@code mgm run --embedded} with a generator in place (the small random
 * fixture of model-runtime's tests, so this checks the plumbing, not the pictures): reasoning hands
 * its prompt to the generation stage, which writes the PNG beside the results and the task's one
 * final result, status ok, with {@code generated_image} naming the file.
 */
class GenerationRunTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aGenerateTaskEndsWithItsImage() throws Exception {
        Path fixture = Path.of(System.getProperty("mgm.generator.fixture",
                "../model-runtime/src/test/resources/generator-fixture")).toAbsolutePath().normalize();
        Path scenes = Home.samples().resolve("scenes");
        List<String> lines = new ArrayList<>();
        int n = 0;
        for (String line : Files.readAllLines(scenes.resolve("answers.jsonl"))) {
            JsonNode k = JSON.readTree(line);
            if (!k.get("kind").asText().equals("generate") || n >= 6) {
                continue;
            }
            ObjectNode t = JSON.createObjectNode();
            t.put("task_id", "gen-" + (++n));
            t.put("image", scenes.resolve(k.get("image").asText()).toString());
            t.put("kind", "generate");
            t.put("prompt", k.get("prompt").asText());
            lines.add(JSON.writeValueAsString(t));
        }
        Files.write(dir.resolve("tasks.jsonl"), lines);
        Path output = dir.resolve("results.jsonl");
        Object[] r = MgmTest.mgm("run", "--embedded", "--input", dir.resolve("tasks.jsonl").toString(),
                "--output", output.toString(), "--lake", dir.resolve("lake").toString(), "--timeout", "5m",
                "--set", "generation.model.dir=" + fixture);
        String stderr = (String) r[2];
        assertThat((int) r[0]).as(stderr).isZero();
        assertThat(stderr).contains("generation, sink");
        Map<String, JsonNode> results = new LinkedHashMap<>();
        for (String line : Files.readAllLines(output)) {
            JsonNode j = JSON.readTree(line);
            assertThat(results.put(j.get("task_id").asText(), j)).as("a second result for " + j).isNull();
        }
        assertThat(results).hasSize(n);
        int images = 0;
        for (JsonNode j : results.values()) {
            if (!j.path("generated_image").asText().isEmpty()) {
                assertThat(j.get("status").asText()).isEqualTo("ok");
                assertThat(j.get("generation_prompt").asText()).isNotBlank();
                Path png = Path.of(URI.create(j.get("generated_image").asText()));
                assertThat(png).startsWith(dir.resolve("generated-images").toRealPath());
                BufferedImage img = ImageIO.read(png.toFile());
                assertThat(img.getWidth()).isEqualTo(96);
                images++;
            } else {
                // reasoning wrote no usable prompt, or the generator refused it: said in the reason
                assertThat(j.get("status").asText()).isIn("failed", "rejected");
                assertThat(j.get("reason").asText()).isNotBlank();
            }
        }
        assertThat(images).as(results.toString()).isGreaterThanOrEqualTo(1);
    }
}
