package dev.mgmstream.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mgmstream.model.vision.GoldenScenes;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The exported ONNX graphs, run through DJL's ONNX Runtime engine, reproduce the PyTorch model's
 * outputs on the golden scenes within 1e-4, and greedy decoding with the KV cache gives the same
 * answers as the Python reference.
 */
class GoldenParityTest {

    static final float TOL = 1e-4f;
    /**
     * The three vision graphs chained, in float32, on pixels made in Java: each graph's float32 rounding
     * reaches the next one's input, and the projector amplifies it. The trained model's visual tokens
     * reach about 80, where one float32 step is 8e-6; this allows the bar plus about eight such steps.
     * Each graph alone, on PyTorch's own inputs, is held to the bar itself
     * ({@link #encodersMatchPyTorchOnStoredPixels}).
     */
    static final float CHAIN_REL_TOL = 1e-6f;
    static ModelManifest manifest;
    static Golden golden;
    static OnnxGraph lrEncoder, hrEncoder, projector, embed, decoder;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Golden.modelDir("mgm-tiny");
        manifest = ModelManifest.load(dir);
        golden = new Golden(dir);
        EngineOptions cpu = EngineOptions.cpu(1);
        lrEncoder = OnnxGraph.load(manifest.file(manifest.vision().lrEncoder().file()), cpu);
        hrEncoder = OnnxGraph.load(manifest.file(manifest.vision().hrEncoder().file()), cpu);
        projector = OnnxGraph.load(manifest.file(manifest.vision().projector().file()), cpu);
        embed = OnnxGraph.load(manifest.file(manifest.languageModel().embedTokens().file()), cpu);
        decoder = OnnxGraph.load(manifest.file(manifest.languageModel().decoder().file()), cpu);
    }

    @AfterAll
    static void close() {
        for (OnnxGraph g : new OnnxGraph[] {lrEncoder, hrEncoder, projector, embed, decoder}) {
            if (g != null) {
                g.close();
            }
        }
    }

    static NDArray named(NDManager m, String name, Golden.Tensor t) {
        NDArray a = m.create(t.data(), new Shape(t.shape()));
        a.setName(name);
        return a;
    }

    static NDArray run1(OnnxGraph g, NDList in) throws Exception {
        try (Predictor<NDList, NDList> p = g.newPredictor()) {
            return p.predict(in).get(0);
        }
    }

    @Test
    void encodersMatchPyTorchOnStoredPixels() throws Exception {
        int checked = 0;
        for (JsonNode scene : golden.scenes()) {
            if (!scene.has("hr_pixel_values")) {
                continue;
            }
            try (NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
                NDArray lr = run1(lrEncoder, new NDList(named(m, "pixel_values", golden.tensor(scene.get("lr_pixel_values")))));
                assertThat(Golden.maxAbsDiff(lr.toFloatArray(), golden.tensor(scene.get("lr_features")).data())).isLessThan(TOL);
                NDArray hr = run1(hrEncoder, new NDList(named(m, "pixel_values_hr", golden.tensor(scene.get("hr_pixel_values")))));
                assertThat(Golden.maxAbsDiff(hr.toFloatArray(), golden.tensor(scene.get("hr_features")).data())).isLessThan(TOL);
                // the projector (mining included) on PyTorch's own features: the component by itself
                NDArray tokens = run1(projector, new NDList(named(m, "lr_features", golden.tensor(scene.get("lr_features"))),
                        named(m, "hr_features", golden.tensor(scene.get("hr_features")))));
                assertThat(Golden.maxAbsDiff(tokens.toFloatArray(), golden.tensor(scene.get("visual_tokens")).data()))
                        .isLessThan(TOL);
                checked++;
            }
        }
        assertThat(checked).isPositive();
    }

    /** Normalised HR pixels and their area-averaged LR view, for a 384 px golden PNG (no resize needed). */
    static float[][] views(BufferedImage img, int lrSize) {
        int s = img.getWidth();
        float[] hr = new float[3 * s * s];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int rgb = img.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    int v = (rgb >> (16 - 8 * c)) & 0xff;
                    hr[c * s * s + y * s + x] = (v / 255f - 0.5f) / 0.5f;
                }
            }
        }
        int k = s / lrSize;
        float[] lr = new float[3 * lrSize * lrSize];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < lrSize; y++) {
                for (int x = 0; x < lrSize; x++) {
                    float sum = 0;
                    for (int dy = 0; dy < k; dy++) {
                        for (int dx = 0; dx < k; dx++) {
                            sum += hr[c * s * s + (y * k + dy) * s + x * k + dx];
                        }
                    }
                    lr[c * lrSize * lrSize + y * lrSize + x] = sum / (k * k);
                }
            }
        }
        return new float[][] {hr, lr};
    }

    /** All golden scenes at once: one batch through the vision graphs, compared with the per-scene outputs. */
    @Test
    void visualTokensMatchPyTorchBatched() throws Exception {
        List<JsonNode> scenes = golden.scenes();
        int hrSize = manifest.vision().preprocess().hr().size();
        int lrSize = manifest.vision().preprocess().lr().size();
        int n = scenes.size();
        float[] hrAll = new float[n * 3 * hrSize * hrSize];
        float[] lrAll = new float[n * 3 * lrSize * lrSize];
        for (int i = 0; i < n; i++) {
            BufferedImage img = ImageIO.read(golden.dir.resolve(scenes.get(i).get("image").asText()).toFile());
            float[][] v = views(img, lrSize);
            System.arraycopy(v[0], 0, hrAll, i * v[0].length, v[0].length);
            System.arraycopy(v[1], 0, lrAll, i * v[1].length, v[1].length);
        }
        try (NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
            NDArray lrPix = m.create(lrAll, new Shape(n, 3, lrSize, lrSize));
            lrPix.setName("pixel_values");
            NDArray hrPix = m.create(hrAll, new Shape(n, 3, hrSize, hrSize));
            hrPix.setName("pixel_values_hr");
            NDArray lrF = run1(lrEncoder, new NDList(lrPix));
            lrF.setName("lr_features");
            float[] lrAllOut = lrF.toFloatArray();
            int lrPer = lrAllOut.length / n;
            for (int i = 0; i < n; i++) {
                assertThat(Golden.maxAbsDiff(java.util.Arrays.copyOfRange(lrAllOut, i * lrPer, (i + 1) * lrPer),
                        golden.tensor(scenes.get(i).get("lr_features")).data()))
                        .as(scenes.get(i).get("id").asText() + " lr_features").isLessThan(TOL);
            }
            NDArray hrF = run1(hrEncoder, new NDList(hrPix));
            hrF.setName("hr_features");
            NDArray vis = run1(projector, new NDList(lrF, hrF));
            int per = (int) (vis.size() / n);
            float[] all = vis.toFloatArray();
            for (int i = 0; i < n; i++) {
                float[] mine = java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per);
                float[] want = golden.tensor(scenes.get(i).get("visual_tokens")).data();
                assertThat(Golden.maxAbsDiff(mine, want)).as(scenes.get(i).get("id").asText())
                        .isLessThan(TOL + CHAIN_REL_TOL * GoldenScenes.maxAbs(want));
            }
        }
    }

    @Test
    void greedyDecodingMatchesPythonAnswers() throws Exception {
        ModelManifest.LanguageModel lm = manifest.languageModel();
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(
                manifest.file(manifest.tokenizer().file()), Map.of("addSpecialTokens", "false"));
             Predictor<NDList, NDList> emb = embed.newPredictor();
             Predictor<NDList, NDList> dec = decoder.newPredictor()) {
            long imageId = tok.encode(manifest.tokenizer().imageToken()).getIds()[0];
            long stop = tok.encode(manifest.chat().stopTokens().get(0)).getIds()[0];
            int checked = 0;
            for (JsonNode scene : golden.scenes()) {
                float[] vis = golden.tensor(scene.get("visual_tokens")).data();
                for (JsonNode task : scene.get("tasks")) {
                    try (NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
                        long[] ids = Golden.longs(task.get("prompt_ids"));
                        NDArray idArr = m.create(ids, new Shape(1, ids.length));
                        idArr.setName("input_ids");
                        float[] e = emb.predict(new NDList(idArr)).get(0).toFloatArray();
                        int d = lm.hiddenSize();
                        int v = 0;
                        for (int i = 0; i < ids.length; i++) {
                            if (ids[i] == imageId) {
                                System.arraycopy(vis, v * d, e, i * d, d);
                                v++;
                            }
                        }
                        List<Long> out = new ArrayList<>();
                        NDList past = emptyPast(m, lm);
                        float[] x = e;
                        int t = ids.length;
                        int total = 0;
                        float[] lastLogits = null;
                        for (int step = 0; step < 96; step++) {
                            NDList in = new NDList();
                            NDArray xe = m.create(x, new Shape(1, t, d));
                            xe.setName("inputs_embeds");
                            long[] mask = new long[total + t];
                            java.util.Arrays.fill(mask, 1);
                            NDArray am = m.create(mask, new Shape(1, mask.length));
                            am.setName("attention_mask");
                            long[] pos = new long[t];
                            for (int i = 0; i < t; i++) {
                                pos[i] = total + i;
                            }
                            NDArray pa = m.create(pos, new Shape(1, t));
                            pa.setName("position_ids");
                            in.add(xe); in.add(am); in.add(pa);
                            in.addAll(past);
                            NDList res = dec.predict(in);
                            NDArray logits = res.get("logits");
                            float[] lg = logits.get(0, t - 1).toFloatArray();
                            if (step == 0) {
                                lastLogits = lg;
                            }
                            past = new NDList();
                            for (int l = 0; l < lm.numLayers(); l++) {
                                NDArray k = res.get(lm.decoder().presentKey(l));
                                k.setName(lm.decoder().pastKey(l));
                                NDArray vv = res.get(lm.decoder().presentValue(l));
                                vv.setName(lm.decoder().pastValue(l));
                                past.add(k); past.add(vv);
                            }
                            total += t;
                            int best = argmax(lg);
                            if (best == stop) {
                                break;
                            }
                            out.add((long) best);
                            NDArray one = m.create(new long[] {best}, new Shape(1, 1));
                            one.setName("input_ids");
                            x = emb.predict(new NDList(one)).get(0).toFloatArray();
                            t = 1;
                        }
                        float[] want = new float[task.get("last_logits").size()];
                        for (int i = 0; i < want.length; i++) {
                            want[i] = (float) task.get("last_logits").get(i).asDouble();
                        }
                        assertThat(Golden.maxAbsDiff(lastLogits, want)).isLessThan(TOL);
                        String answer = tok.decode(out.stream().mapToLong(Long::longValue).toArray(), true);
                        assertThat(answer).as(task.get("prompt").asText()).isEqualTo(task.get("greedy_answer").asText());
                        checked++;
                    }
                }
            }
            assertThat(checked).isGreaterThan(16);
        }
    }

    static NDList emptyPast(NDManager m, ModelManifest.LanguageModel lm) {
        NDList past = new NDList();
        for (int l = 0; l < lm.numLayers(); l++) {
            NDArray k = m.zeros(new Shape(1, lm.numKvHeads(), 0, lm.headDim()), DataType.FLOAT32);
            k.setName(lm.decoder().pastKey(l));
            NDArray v = m.zeros(new Shape(1, lm.numKvHeads(), 0, lm.headDim()), DataType.FLOAT32);
            v.setName(lm.decoder().pastValue(l));
            past.add(k); past.add(v);
        }
        return past;
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }
}
