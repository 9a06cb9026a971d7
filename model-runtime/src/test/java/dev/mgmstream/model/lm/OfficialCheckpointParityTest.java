package dev.mgmstream.model.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.ModelsPython;
import dev.mgmstream.model.official.OfficialExports;
import dev.mgmstream.model.official.OfficialExports.Task;
import dev.mgmstream.model.official.OfficialExports.Traced;
import dev.mgmstream.model.vision.DecodeLimits;
import dev.mgmstream.model.vision.ImageDecoder;
import dev.mgmstream.model.vision.PixelViews;
import dev.mgmstream.model.vision.VisionEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java pipeline on exports of checkpoints in the released Mini-Gemini format (scaled down, random
 * weights, written at test time) answers as the PyTorch model does on the checkpoint itself, one task at a
 * time: float32 exports give the same greedy tokens and logits within 1e-3 at every step; float16 exports the
 * same tokens for at least 95% of them. Both runs see the same PNGs, so this covers the preprocessing (the
 * bilinear LR view of the 768/336-like HR view), the prompt split around the image placeholder, the batched,
 * left-padded decode with a one-KV-head cache, and the dtypes of every graph.
 */
class OfficialCheckpointParityTest {

    static final int MAX_NEW_TOKENS = 12;
    static final float LOGITS_TOL = 1e-3f;
    static List<Task> tasks;
    static Map<String, Map<String, Traced>> reference = new HashMap<>();

    @BeforeAll
    static void tasks() throws Exception {
        Path scenes = ModelsPython.MODELS.getParent().resolve("samples").resolve("scenes");
        List<Path> images;
        try (Stream<Path> s = Files.list(scenes)) {
            images = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
        tasks = new ArrayList<>();
        String[] questions = {"What is in the image?", "Describe the image in detail.", "Is there a red circle?"};
        for (int i = 0; i < images.size(); i++) {
            Path img = images.get(i);
            tasks.add(new Task("vqa-" + i, img, "vqa", questions[i % questions.length]));
            tasks.add(new Task("cap-" + i, img, "caption", "Describe the image in detail."));
            if (i % 3 == 0) {
                tasks.add(new Task("gen-" + i, img, "generate", "Draw this scene at night."));
            }
        }
        assertTrue(tasks.size() >= 20, "at least 20 image/prompt pairs, have " + tasks.size());
    }

    static Map<String, Traced> reference(String family) {
        return reference.computeIfAbsent(family, f -> OfficialExports.reference(f, tasks, MAX_NEW_TOKENS));
    }

    record JavaRun(Map<String, Completion> completions, Map<String, Prompt> prompts, Map<String, List<float[]>> logits) {}

    static JavaRun runJava(Path export) throws Exception {
        ModelManifest manifest = ModelManifest.load(export);
        ImageDecoder decoder = new ImageDecoder(DecodeLimits.DEFAULT);
        Map<Path, float[]> tokensOf = new LinkedHashMap<>();
        Map<String, Prompt> prompts = new LinkedHashMap<>();
        Map<String, List<float[]>> logits = new HashMap<>();
        Map<String, Completion> completions = new HashMap<>();
        try (VisionEncoder vision = VisionEncoder.load(manifest, EngineOptions.cpu(1));
             LanguageModel lm = LanguageModel.load(manifest, EngineOptions.cpu(1));
             Generator gen = lm.newGenerator(BatchingOptions.continuous(8))) {
            List<Path> images = tasks.stream().map(Task::image).distinct().toList();
            List<PixelViews> views = new ArrayList<>();
            for (Path p : images) {
                views.add(vision.preprocessor().apply(decoder.decode(Files.readAllBytes(p))));
            }
            VisionEncoder.Encoded enc = vision.encode(views);
            for (int i = 0; i < images.size(); i++) {
                tokensOf.put(images.get(i), enc.tokens().get(i));
            }
            List<Prompt> batch = new ArrayList<>();
            for (Task t : tasks) {
                String text = t.kind().equals("generate") ? lm.generationRequest(t.prompt()) : t.prompt();
                Prompt p = lm.prompt(t.id(), text, tokensOf.get(t.image()), enc.tokensPerImage(),
                        SamplingParams.greedy(MAX_NEW_TOKENS));
                prompts.put(t.id(), p);
                batch.add(p);
            }
            gen.observeLogits((id, values, offset, vocab) -> logits.computeIfAbsent(id, k -> new ArrayList<>())
                    .add(Arrays.copyOfRange(values, offset, offset + vocab)));
            for (Completion c : gen.generate(batch)) {
                completions.put(c.id(), c);
            }
        }
        return new JavaRun(completions, prompts, logits);
    }

    /** The prompt with the image's run of placeholder positions collapsed to one, as the reference writes it. */
    static long[] collapsed(Prompt p, long imageId) {
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < p.tokenIds().length; i++) {
            long id = p.tokenIds()[i];
            if (id == imageId && i > 0 && p.tokenIds()[i - 1] == imageId) {
                continue;
            }
            out.add(id);
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gemma", "vicuna", "llama3", "gemma-hd"})
    void float32GivesTheReferenceTokensAndLogits(String family) throws Exception {
        Map<String, Traced> ref = reference(family);
        JavaRun java = runJava(OfficialExports.export(family, "float32"));
        int steps = 0;
        for (Task t : tasks) {
            Traced r = ref.get(t.id());
            Prompt p = java.prompts().get(t.id());
            assertArrayEquals(r.inputIds(), collapsed(p, -200), t.id() + ": prompt ids");
            Completion c = java.completions().get(t.id());
            assertArrayEquals(r.tokens(), c.tokens(), t.id() + ": greedy tokens");
            assertEquals(r.result().path("answer").asText(), c.text(), t.id() + ": answer text");
            List<float[]> jl = java.logits().get(t.id());
            assertEquals(r.logits().size(), jl.size(), t.id() + ": steps");
            for (int s = 0; s < jl.size(); s++) {
                float worst = 0;
                for (int v = 0; v < jl.get(s).length; v++) {
                    worst = Math.max(worst, Math.abs(jl.get(s)[v] - r.logits().get(s)[v]));
                }
                assertTrue(worst <= LOGITS_TOL, t.id() + " step " + s + ": logits differ by " + worst);
                steps++;
            }
        }
        assertTrue(steps > tasks.size(), "compared " + steps + " steps");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gemma", "vicuna", "llama3", "gemma-hd"})
    void float16GivesTheReferenceTokensNearlyAlways(String family) throws Exception {
        Map<String, Traced> ref = reference(family);
        JavaRun java = runJava(OfficialExports.export(family, "float16"));
        int same = 0;
        int total = 0;
        for (Task t : tasks) {
            long[] want = ref.get(t.id()).tokens();
            long[] got = java.completions().get(t.id()).tokens();
            for (int i = 0; i < want.length; i++) {
                total++;
                if (i < got.length && got[i] == want[i]) {
                    same++;
                } else {
                    break;   // past a divergence the two answer different prefixes
                }
            }
        }
        double rate = same / (double) total;
        System.out.printf(family + " float16 export: %d of %d reference tokens identical (%.1f%%)%n", same, total, 100 * rate);
        assertTrue(rate >= 0.95, "float16: " + same + " of " + total + " tokens identical");
    }

    @Test
    void graphsWithExternalDataLoadFromBesideTheGraphAndAnswerTheSame() throws Exception {
        Path external = OfficialExports.export("gemma", "float16", List.of("--external-data-threshold", "20000"));
        assertTrue(Files.exists(external.resolve("decoder.onnx.data")), "the decoder's weights are external");
        JavaRun inline = runJava(OfficialExports.export("gemma", "float16"));
        JavaRun split = runJava(external);
        for (Task t : tasks) {
            assertArrayEquals(inline.completions().get(t.id()).tokens(), split.completions().get(t.id()).tokens(), t.id());
        }
    }

    @Test
    void hdGivesFiveTimesTheVisualTokensOfItsBaseModel() throws Exception {
        ModelManifest base = ModelManifest.load(OfficialExports.export("gemma", "float32"));
        ModelManifest hd = ModelManifest.load(OfficialExports.export("gemma-hd", "float32"));
        try (LanguageModel a = LanguageModel.load(base, EngineOptions.cpu(1));
             LanguageModel b = LanguageModel.load(hd, EngineOptions.cpu(1))) {
            assertEquals(2, hd.vision().hdGrid());
            assertEquals(5 * a.visualTokenCount(), b.visualTokenCount());
        }
    }
}
