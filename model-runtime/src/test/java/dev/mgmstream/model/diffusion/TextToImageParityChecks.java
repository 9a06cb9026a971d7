package dev.mgmstream.model.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.model.EngineOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The Java generator against the Python reference sampler's golden images (models/export_gen.py
 * --golden): same prompt, seed, steps and guidance give the same pixels within 2/255, one by one and
 * batched. Run on two models: the small random fixture that {@code export_gen.py --random-fixture}
 * wrote (random weights still make every graph, the noise, the scheduler and the guidance count) and
 * the bundled models/mgm-gen-tiny ({@code mgm.gen.model.dir} points elsewhere).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class TextToImageParityChecks {

    Path dir;
    JsonNode golden;
    TextToImage generator;

    abstract Path modelDir();

    @BeforeAll
    void load() throws Exception {
        dir = modelDir().toAbsolutePath().normalize();
        assumeTrue(Files.isRegularFile(dir.resolve("golden/golden.json")),
                "no exported generator with golden samples at " + dir);
        golden = new ObjectMapper().readTree(dir.resolve("golden/golden.json").toFile());
        generator = TextToImage.load(GeneratorManifest.load(dir), EngineOptions.CPU);
    }

    @AfterAll
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private List<TextToImage.Request> requests() {
        List<TextToImage.Request> out = new ArrayList<>();
        for (JsonNode s : golden.get("samples")) {
            out.add(new TextToImage.Request(s.get("prompt").asText(), golden.get("negative_prompt").asText(),
                    s.get("seed").asLong(), golden.get("steps").asInt(), golden.get("guidance").asDouble()));
        }
        return out;
    }

    private static int maxDiff(TextToImage.Image img, Path png) throws Exception {
        return PixelDiff.max(ImageIO.read(png.toFile()), img);
    }

    @Test
    void noiseMatchesTheReference() {
        for (JsonNode s : golden.get("samples")) {
            JsonNode head = s.get("noise_head");
            float[] mine = GaussianNoise.normal(s.get("seed").asLong(), head.size());
            float[] ref = new float[head.size()];
            for (int i = 0; i < ref.length; i++) {
                ref[i] = (float) head.get(i).asDouble();
            }
            assertArrayEquals(ref, mine, 1e-6f);
        }
    }

    @Test
    void oneByOneEqualsThePythonSampler() throws Exception {
        List<TextToImage.Request> rs = requests();
        for (int i = 0; i < rs.size(); i++) {
            TextToImage.Image img = generator.generate(List.of(rs.get(i))).get(0);
            int d = maxDiff(img, dir.resolve("golden").resolve(golden.get("samples").get(i).get("image").asText()));
            assertTrue(d <= 2, "sample " + i + ": max pixel difference " + d + "/255");
        }
    }

    @Test
    void batchedEqualsThePythonSampler() throws Exception {
        List<TextToImage.Request> rs = requests();
        List<TextToImage.Image> imgs = generator.generate(rs);
        for (int i = 0; i < rs.size(); i++) {
            int d = maxDiff(imgs.get(i), dir.resolve("golden").resolve(golden.get("samples").get(i).get("image").asText()));
            assertTrue(d <= 2, "sample " + i + " in a batch of " + rs.size() + ": max pixel difference " + d + "/255");
        }
    }

    @Test
    void refusesPromptsItCannotTake() {
        assertThrows(IllegalArgumentException.class,
                () -> generator.validate(new TextToImage.Request("", "", 1, 20, 5)));
        assertThrows(IllegalArgumentException.class,
                () -> generator.validate(new TextToImage.Request("a red circle", "", 1, 0, 5)));
        String longPrompt = "a small red circle at the top left, ".repeat(20);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> generator.validate(new TextToImage.Request(longPrompt, "", 1, 20, 5)));
        assertTrue(e.getMessage().contains("at most"), e.getMessage());
    }
}
