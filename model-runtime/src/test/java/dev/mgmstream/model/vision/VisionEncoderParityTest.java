package dev.mgmstream.model.vision;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole Java vision path (decode the golden PNG, preprocess, LR encoder, HR encoder, mining and
 * projector) against the Python reference's tensors for every golden scene.
 *
 * <p>Tolerances: the preprocessed pixels differ from PyTorch's only by float32 rounding order (1e-5); the
 * visual tokens must be within 1e-3 max abs, compared in float32 before any fp16 quantization. Batched and
 * one-by-one runs go through the same graphs, but ONNX Runtime may block its matrix products differently
 * for a different batch size, so they are held to a few float32 steps of the largest token value (1e-6 of
 * it, at least 1e-6) rather than bit equality: an absolute 1e-5 is under 3 such steps once values reach 60.
 */
class VisionEncoderParityTest {

    static final float TOKENS_TOL = 1e-3f;
    static final float PIXELS_TOL = 1e-5f;
    static final float BATCH_REL_TOL = 1e-6f;

    static ModelManifest manifest;
    static GoldenScenes golden;
    static VisionEncoder encoder;
    static ImageDecoder decoder = new ImageDecoder(DecodeLimits.DEFAULT);

    @BeforeAll
    static void load() {
        Path dir = GoldenScenes.modelDir("mgm-tiny");
        manifest = ModelManifest.load(dir);
        golden = new GoldenScenes(dir);
        encoder = VisionEncoder.load(manifest, EngineOptions.cpu(2));
    }

    @AfterAll
    static void close() {
        if (encoder != null) {
            encoder.close();
        }
    }

    static PixelViews views(GoldenScenes.Scene s) throws Exception {
        return encoder.preprocessor().apply(decoder.decode(Files.readAllBytes(s.image())));
    }

    @Test
    void preprocessedPixelsMatchPython() throws Exception {
        int checked = 0;
        for (GoldenScenes.Scene s : golden.scenes()) {
            float[] hr = golden.tensor(s, "hr_pixel_values");
            if (hr == null) {
                continue;
            }
            PixelViews v = views(s);
            assertThat(GoldenScenes.maxAbsDiff(v.hr(), hr)).as(s.id() + " HR").isLessThan(PIXELS_TOL);
            assertThat(GoldenScenes.maxAbsDiff(v.lr(), golden.tensor(s, "lr_pixel_values"))).as(s.id() + " LR")
                    .isLessThan(PIXELS_TOL);
            checked++;
        }
        assertThat(checked).isPositive();
    }

    @Test
    void visualTokensMatchPythonOnEveryScene_batchedAndOneByOne() throws Exception {
        List<PixelViews> all = new ArrayList<>();
        for (GoldenScenes.Scene s : golden.scenes()) {
            all.add(views(s));
        }
        VisionEncoder.Encoded batched = encoder.encode(all);
        assertThat(batched.tokensPerImage()).isEqualTo(manifest.vision().imageTokenCount());
        float worst = 0;
        for (int i = 0; i < all.size(); i++) {
            GoldenScenes.Scene s = golden.scenes().get(i);
            float[] want = golden.tensor(s, "visual_tokens");
            float diff = GoldenScenes.maxAbsDiff(batched.tokens().get(i), want);
            worst = Math.max(worst, diff);
            assertThat(diff).as(s.id()).isLessThan(TOKENS_TOL);

            float[] alone = encoder.encode(List.of(all.get(i))).tokens().get(0);
            float scale = Math.max(1f, GoldenScenes.maxAbs(batched.tokens().get(i)));
            assertThat(GoldenScenes.maxAbsDiff(alone, batched.tokens().get(i))).as(s.id() + " batched vs alone")
                    .isLessThan(BATCH_REL_TOL * scale);

            // fp16 on the wire: each value within its own half-precision rounding of the float32 result
            float[] half = TensorBytes.decode(TensorBytes.encode(batched.tokens().get(i), "float16"), "float16");
            for (int k = 0; k < half.length; k++) {
                float f = batched.tokens().get(i)[k];
                assertThat(Math.abs(half[k] - f)).isLessThanOrEqualTo(Math.abs(f) * 0x1p-11f + 0x1p-25f);
            }
        }
        System.out.printf("visual tokens: max abs diff vs Python over %d scenes = %.3g%n", all.size(), worst);
        assertThat(all).hasSizeGreaterThanOrEqualTo(16);
    }

    /** Two worker threads on one encoder: each gets its own predictors, and both get the right tokens. */
    @Test
    void workerThreadsShareTheGraphsButNotThePredictors() throws Exception {
        List<PixelViews> views = new ArrayList<>();
        List<float[]> want = new ArrayList<>();
        for (GoldenScenes.Scene s : golden.scenes().subList(0, 4)) {
            views.add(views(s));
            want.add(golden.tensor(s, "visual_tokens"));
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            List<java.util.concurrent.Future<VisionEncoder.Encoded>> runs = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                runs.add(pool.submit(() -> encoder.encode(views)));
            }
            for (java.util.concurrent.Future<VisionEncoder.Encoded> run : runs) {
                VisionEncoder.Encoded out = run.get();
                for (int i = 0; i < views.size(); i++) {
                    assertThat(GoldenScenes.maxAbsDiff(out.tokens().get(i), want.get(i))).isLessThan(TOKENS_TOL);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
