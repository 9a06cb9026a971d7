package dev.mgmstream.model.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.official.OfficialExports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder with its cache bound through ONNX Runtime's I/O binding (module model-runtime-bound) against the
 * DJL path, on the CPU provider, where both exist: the same greedy tokens and the same logits at every step, with
 * continuous batching re-packing the cache (the {@code RepackGraph} path) as sequences come and go; mgm-tiny in
 * float32 and the Gemma test checkpoint's float16 export (one KV head, float16 cache). On a GPU the code is the
 * same but for the memory the present tensors are bound to; {@code DeviceDecodeBenchmark} runs it there.
 */
class IoBindingParityTest {

    static LanguageModel djl;
    static LanguageModel bound;
    static List<GoldenTasks.Task> tasks;

    @BeforeAll
    static void load() throws Exception {
        ModelManifest m = ModelManifest.load(GoldenTasks.modelDir());
        djl = LanguageModel.load(m, EngineOptions.cpu(1));
        bound = LanguageModel.load(m, EngineOptions.cpu(1).withIoBinding(true));
        tasks = GoldenTasks.load(GoldenTasks.modelDir());
    }

    @AfterAll
    static void close() {
        if (bound != null) {
            bound.close();
        }
        if (djl != null) {
            djl.close();
        }
    }

    @Test
    void theBoundBackendIsTheOneLoaded() {
        assertThat(djl.decoderBackend()).isEqualTo("djl");
        assertThat(bound.decoderBackend()).isEqualTo("io-binding(cpu, cache in host memory)");
    }

    static List<Prompt> varied(LanguageModel lm, List<GoldenTasks.Task> ts, int copies) {
        List<Prompt> out = new ArrayList<>();
        for (int c = 0; c < copies; c++) {
            for (int i = 0; i < ts.size(); i++) {
                GoldenTasks.Task t = ts.get(i);
                int k = out.size();
                out.add(lm.prompt("t" + k, t.prompt(), t.visualTokens(), t.visualCount(),
                        SamplingParams.greedy(4 + (k * 37) % 45)));
            }
        }
        return out;
    }

    /** Every logits row each sequence's tokens were chosen from, in order. */
    static Map<String, List<float[]>> record(Generator g) {
        Map<String, List<float[]>> seen = new HashMap<>();
        g.observeLogits((id, logits, offset, vocab) -> seen.computeIfAbsent(id, k -> new ArrayList<>())
                .add(java.util.Arrays.copyOfRange(logits, offset, offset + vocab)));
        return seen;
    }

    static void assertSame(LanguageModel a, LanguageModel b, List<Prompt> pa, List<Prompt> pb, BatchingOptions options,
                           double logitsTolerance) throws Exception {
        try (Generator ga = a.newGenerator(options); Generator gb = b.newGenerator(options)) {
            Map<String, List<float[]>> la = record(ga);
            Map<String, List<float[]>> lb = record(gb);
            List<Completion> ca = ga.generate(pa);
            List<Completion> cb = gb.generate(pb);
            for (int i = 0; i < ca.size(); i++) {
                assertThat(cb.get(i).tokens()).as(pa.get(i).id()).containsExactly(ca.get(i).tokens());
                assertThat(cb.get(i).text()).isEqualTo(ca.get(i).text());
                assertThat(cb.get(i).finishReason()).isEqualTo(ca.get(i).finishReason());
                List<float[]> ra = la.get(pa.get(i).id());
                List<float[]> rb = lb.get(pa.get(i).id());
                assertThat(rb).hasSameSizeAs(ra);
                for (int s = 0; s < ra.size(); s++) {
                    float[] x = ra.get(s);
                    float[] y = rb.get(s);
                    for (int v = 0; v < x.length; v++) {
                        assertThat((double) Math.abs(x[v] - y[v])).as("%s step %d logit %d", pa.get(i).id(), s, v)
                                .isLessThanOrEqualTo(logitsTolerance);
                    }
                }
            }
            assertThat(gb.stats().prefills()).isEqualTo(ga.stats().prefills());
            assertThat(gb.liveArrays()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 16})
    void mgmTinyAnswersAsTheDjlPathWithTheCacheRepackedAsSequencesComeAndGo(int slots) throws Exception {
        List<Prompt> mix = varied(djl, tasks, 2);
        assertSame(djl, bound, mix, mix, new BatchingOptions(slots, BatchingOptions.Mode.CONTINUOUS,
                Math.max(1, slots / 4)), 1e-4);
    }

    @Test
    void staticBatchesToo() throws Exception {
        List<Prompt> mix = varied(djl, tasks, 1);
        assertSame(djl, bound, mix, mix, BatchingOptions.staticBatches(6), 1e-4);
    }

    @Test
    void cachesAreReleasedAfterEachCallAndWhenACallFails() throws Exception {
        GenerationParityTest.assertReleasesNativeMemory(bound, varied(bound, tasks.subList(0, 5), 1), tasks.get(0));
    }

    /**
     * A manifest whose cache shape does not match its graph: ONNX Runtime refuses the prefill's past inputs, the
     * error comes back with its message, and nothing native is left behind.
     */
    @Test
    void aFailingRunInOnnxRuntimeLeavesNothingBehind(@TempDir Path dir) throws Exception {
        try (var files = Files.list(GoldenTasks.modelDir())) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName().toString()));
            }
        }
        Path manifest = dir.resolve("model.json");
        String json = Files.readString(manifest);
        assertThat(json).contains("\"num_kv_heads\": 4");
        Files.writeString(manifest, json.replace("\"num_kv_heads\": 4", "\"num_kv_heads\": 2"));
        GoldenTasks.Task t = tasks.get(0);
        try (LanguageModel wrong = LanguageModel.load(ModelManifest.load(dir), EngineOptions.cpu(1).withIoBinding(true));
             Generator g = wrong.newGenerator(BatchingOptions.continuous(2))) {
            Prompt p = wrong.prompt("p", t.prompt(), t.visualTokens(), t.visualCount(), SamplingParams.greedy(4));
            assertThatThrownBy(() -> g.generate(List.of(p, p))).hasMessageContaining("ONNX Runtime RunWithBinding");
            assertThat(g.liveArrays()).isZero();
        }
    }

    @Test
    void aFloat16ExportWithOneKvHeadAnswersAsTheDjlPath() throws Exception {
        Path dir = OfficialExports.export("gemma", "float16");
        ModelManifest m = ModelManifest.load(dir);
        assertThat(m.languageModel().decoder().kvElementType()).isEqualTo("float16");
        assertThat(m.languageModel().numKvHeads()).isEqualTo(1);
        try (LanguageModel a = LanguageModel.load(m, EngineOptions.cpu(1));
             LanguageModel b = LanguageModel.load(m, EngineOptions.cpu(1).withIoBinding(true))) {
            int n = a.visualTokenCount();
            int hidden = m.languageModel().hiddenSize();
            Random random = new Random(11);
            List<Prompt> ps = new ArrayList<>();
            String[] questions = {"Describe the image.", "What color is the car?", "Is there a dog?",
                "Generate an image of a red boat at sunset."};
            for (int i = 0; i < 12; i++) {
                float[] visual = new float[n * hidden];
                for (int k = 0; k < visual.length; k++) {
                    visual[k] = (float) random.nextGaussian();
                }
                ps.add(a.prompt("r" + i, questions[i % questions.length], visual, n,
                        SamplingParams.greedy(3 + (i * 7) % 20)));
            }
            // both paths round the same float16 values the same way: the logits agree to float16's own steps
            assertSame(a, b, ps, ps, new BatchingOptions(4, BatchingOptions.Mode.CONTINUOUS, 1), 1e-3);
        }
    }
}
