package dev.mgmstream.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.model.lm.Completion;
import dev.mgmstream.model.lm.Generator;
import dev.mgmstream.model.lm.LanguageModel;
import dev.mgmstream.model.lm.Prompt;
import dev.mgmstream.model.lm.SamplingParams;
import dev.mgmstream.model.vision.DecodeLimits;
import dev.mgmstream.model.vision.ImageDecoder;
import dev.mgmstream.model.vision.PixelViews;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.model.vision.VisionEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20's parity on held-out scenes of the evaluation-only renderer (models/mgm/world_alt.py): the Java
 * runtime gives the PyTorch model's greedy answer, character for character, to every task the held-out
 * evaluation asks (captions, every VQA template, generation prompts). The golden files cover scenes of the
 * training renderer only; these come from another rasteriser, with JPEG scenes among them, drawn at test
 * time by {@code models/shifted_answers.py}, which writes each image as the file the evaluation decoded.
 *
 * <p>Java goes from those files to answers the way the stages do: {@link ImageDecoder} and the
 * {@link VisionEncoder}'s preprocessing and graphs in batches (encoders), the tokens through the wire
 * dtype of the manifest, then {@link LanguageModel#prompt} and a continuous-batching {@link Generator}
 * (reasoning).
 *
 * <p>{@code -Dmgm.shifted.seed=N -Dmgm.shifted.scenes=K} run it on another or a larger held-out set.
 */
class ShiftedRenderParityTest {

    /** Not a seed any evaluation or training choice used (see the model card). */
    static final int DEFAULT_SEED = 4242;
    static final int DEFAULT_SCENES = 12;
    /** Images per encoder call: a batch the encoders stage forms. */
    static final int ENCODE_BATCH = 32;
    /** The reasoning stage's default (reasoning.lm.slots, continuous batching). */
    static final int SLOTS = 32;
    /** Every scene is asked at least this many questions (caption, shape_at, count_shape, ...). */
    static final int MIN_TASKS_PER_SCENE = 9;
    static final int SHOWN_MISMATCHES = 10;

    record Asked(String scene, String template, String kind, String prompt, String python, String truth) {}

    @Test
    void javaAnswersEveryShiftedRenderTaskAsPythonDoes(@TempDir Path out) throws Exception {
        int seed = Integer.getInteger("mgm.shifted.seed", DEFAULT_SEED);
        int scenes = Integer.getInteger("mgm.shifted.scenes", DEFAULT_SCENES);
        Path modelDir = Golden.modelDir("mgm-tiny");
        long t0 = System.nanoTime();
        // one torch thread: the model is tiny, and on a busy machine a thread per core ran 12 scenes 6x slower
        String log = ModelsPython.run(List.of("shifted_answers.py", "--model", modelDir.toString(), "--seed",
                Integer.toString(seed), "--scenes", Integer.toString(scenes), "--out", out.toString(),
                "--threads", "1"));
        long t1 = System.nanoTime();
        JsonNode doc = new ObjectMapper().readTree(out.resolve("answers.json").toFile());
        assertThat(doc.get("scenes")).as("scenes written").hasSize(scenes);

        ModelManifest manifest = ModelManifest.load(modelDir);
        EngineOptions cpu = EngineOptions.cpu(2);
        String wire = manifest.vision().visualTokensDtype();
        ImageDecoder decoder = new ImageDecoder(DecodeLimits.DEFAULT);
        List<Asked> asked = new ArrayList<>();
        List<String> javaAnswers = new ArrayList<>();
        int jpegs = 0;
        try (VisionEncoder encoder = VisionEncoder.load(manifest, cpu);
             LanguageModel lm = LanguageModel.load(manifest, cpu);
             Generator generator = lm.newGenerator(BatchingOptions.continuous(SLOTS))) {
            int maxNew = manifest.generationDefaults().maxNewTokens();
            List<JsonNode> all = new ArrayList<>();
            doc.get("scenes").forEach(all::add);
            for (int from = 0; from < all.size(); from += ENCODE_BATCH) {
                List<JsonNode> batch = all.subList(from, Math.min(all.size(), from + ENCODE_BATCH));
                List<PixelViews> views = new ArrayList<>();
                for (JsonNode s : batch) {
                    byte[] file = Files.readAllBytes(out.resolve(s.get("image").asText()));
                    views.add(encoder.preprocessor().apply(decoder.decode(file)));
                    jpegs += s.get("jpeg").isNull() ? 0 : 1;
                }
                VisionEncoder.Encoded encoded = encoder.encode(views);
                List<Prompt> prompts = new ArrayList<>();
                for (int i = 0; i < batch.size(); i++) {
                    JsonNode s = batch.get(i);
                    // the tokens as the reasoning stage receives them from the encoders stage
                    float[] tokens = TensorBytes.decode(TensorBytes.encode(encoded.tokens().get(i), wire), wire);
                    for (JsonNode t : s.get("tasks")) {
                        Asked a = new Asked(s.get("image").asText(), t.get("template").asText(), t.get("kind").asText(),
                                t.get("prompt").asText(), t.get("answer").asText(), t.get("truth").asText());
                        String prompt = a.kind().equals("generate") ? lm.generationRequest(a.prompt()) : a.prompt();
                        prompts.add(lm.prompt("q" + asked.size(), prompt, tokens, encoded.tokensPerImage(),
                                SamplingParams.greedy(maxNew)));
                        asked.add(a);
                    }
                }
                for (Completion c : generator.generate(prompts)) {
                    javaAnswers.add(c.text());
                }
            }
        }
        long t2 = System.nanoTime();

        Map<String, int[]> perTemplate = new TreeMap<>();   // template -> {compared, equal}
        List<String> mismatches = new ArrayList<>();
        int equal = 0;
        int right = 0;
        for (int i = 0; i < asked.size(); i++) {
            Asked a = asked.get(i);
            String java = javaAnswers.get(i);
            int[] n = perTemplate.computeIfAbsent(a.template(), k -> new int[2]);
            right += a.python().strip().equals(a.truth()) ? 1 : 0;
            n[0]++;
            if (java.equals(a.python())) {
                n[1]++;
                equal++;
            } else if (mismatches.size() < SHOWN_MISMATCHES) {
                mismatches.add(String.format("%s %s \"%s\": python \"%s\", java \"%s\"", a.scene(), a.template(),
                        a.prompt(), a.python(), java));
            }
        }
        System.out.printf("shifted-render parity, seed %d: %d scenes (%d JPEG), %d answers compared, %d equal "
                        + "(%d of Python's right); per template (compared/equal) %s; python %.1fs, java %.1fs%n%s",
                seed, doc.get("scenes").size(), jpegs, asked.size(), equal, right, describe(perTemplate),
                (t1 - t0) / 1e9, (t2 - t1) / 1e9, log);

        assertThat(javaAnswers).hasSameSizeAs(asked);
        assertThat(mismatches).as("%d of %d answers differ; the first ones", asked.size() - equal, asked.size())
                .isEmpty();
        // and not vacuously: every scene asked, every template of the evaluation among them, signs read
        assertThat(asked).as("answers compared").hasSizeGreaterThanOrEqualTo(MIN_TASKS_PER_SCENE * scenes);
        List<String> templates = new ArrayList<>();
        doc.get("templates").forEach(t -> templates.add(t.asText()));
        assertThat(perTemplate.keySet()).as("templates compared (more scenes would bring the missing ones)")
                .containsExactlyInAnyOrderElementsOf(templates);
        assertThat(perTemplate.getOrDefault("sign_text", new int[1])[0]).as("sign_text answers compared").isPositive();
        // the model's real answers, not some degenerate output (a wrong model folder, an empty answer) both share
        assertThat(right).as("Python's answers that are right").isGreaterThan(asked.size() / 2);
    }

    private static String describe(Map<String, int[]> perTemplate) {
        StringBuilder b = new StringBuilder();
        perTemplate.forEach((k, v) -> b.append(b.length() == 0 ? "" : ", ").append(k).append(' ').append(v[0])
                .append('/').append(v[1]));
        return b.toString();
    }
}
