package dev.mgmstream.model.vision;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.TranslateException;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.OnnxGraph;
import dev.mgmstream.model.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The vision side of a Mini-Gemini export on whole batches: the LR encoder on every LR view, the HR
 * encoder on every HR view, then patch info mining plus the projector on both, giving each image its
 * visual tokens in the language model's width.
 *
 * <p>The graphs are loaded once and shared; each worker thread gets its own predictors (DJL predictors are
 * not thread-safe) on first use, all closed with the encoder. Every tensor of a batch, inputs and the
 * engine's outputs alike, lives in one NDManager scope opened and closed around that batch, so native
 * memory does not grow with the number of batches and nothing leaks when a graph throws.
 *
 * <p>With Mini-Gemini-HD's token extension ({@code hd_grid = g}), the LR encoder sees {@code g^2 + 1} views
 * per image (see {@link Preprocessor}) and the HR feature map is split to match: the whole map average
 * pooled by {@code g} for the global view, then its {@code g x g} tiles, so that every LR view mines the
 * HR region it covers. The projector then returns {@code (g^2 + 1) N} tokens per image.
 */
public final class VisionEncoder implements AutoCloseable {

    /** Visual tokens of a batch, and where the time went. */
    public record Encoded(List<float[]> tokens, int tokensPerImage, int dim, long lrNanos, long hrNanos,
                          long miningNanos) {

        /** The shape of one image's tokens, {@code [tokens, dim]}. */
        public int[] shape() {
            return new int[] {tokensPerImage, dim};
        }
    }

    private final ModelManifest manifest;
    private final Preprocessor preprocessor;
    private final OnnxGraph lrGraph;
    private final OnnxGraph hrGraph;
    private final OnnxGraph projectorGraph;
    private final String lrInput;
    private final String lrOutput;
    private final String hrInput;
    private final String hrOutput;
    private final String tokensOutput;
    private final NDManager base;
    private final ConcurrentLinkedQueue<Predictors> created = new ConcurrentLinkedQueue<>();
    private final ThreadLocal<Predictors> perThread = ThreadLocal.withInitial(this::newPredictors);

    private record Predictors(Predictor<NDList, NDList> lr, Predictor<NDList, NDList> hr,
                              Predictor<NDList, NDList> projector) implements AutoCloseable {
        @Override
        public void close() {
            lr.close();
            if (hr != null) {
                hr.close();
            }
            projector.close();
        }
    }

    private VisionEncoder(ModelManifest manifest, OnnxGraph lr, OnnxGraph hr, OnnxGraph projector) {
        this.manifest = manifest;
        this.preprocessor = new Preprocessor(manifest.vision());
        ModelManifest.Vision v = manifest.vision();
        this.lrGraph = lr;
        this.hrGraph = hr;
        this.projectorGraph = projector;
        this.lrInput = only(v.lrEncoder().inputs(), "lr_encoder inputs");
        this.lrOutput = only(v.lrEncoder().outputs(), "lr_encoder outputs");
        this.hrInput = hr == null ? null : only(v.hrEncoder().inputs(), "hr_encoder inputs");
        this.hrOutput = hr == null ? null : only(v.hrEncoder().outputs(), "hr_encoder outputs");
        this.tokensOutput = only(v.projector().outputs(), "projector outputs");
        this.base = NDManager.newBaseManager(lr.manager().getDevice(), "OnnxRuntime");
    }

    /** Loads the vision graphs the manifest names; the HR encoder only when mining is enabled. */
    public static VisionEncoder load(ModelManifest manifest, EngineOptions options) {
        ModelManifest.Vision v = manifest.vision();
        List<OnnxGraph> loaded = new ArrayList<>();
        try {
            OnnxGraph lr = OnnxGraph.load(manifest.file(v.lrEncoder().file()), options);
            loaded.add(lr);
            OnnxGraph hr = null;
            if (v.hasHighResolution()) {
                hr = OnnxGraph.load(manifest.file(v.hrEncoder().file()), options);
                loaded.add(hr);
            }
            OnnxGraph projector = OnnxGraph.load(manifest.file(v.projector().file()), options);
            loaded.add(projector);
            return new VisionEncoder(manifest, lr, hr, projector);
        } catch (RuntimeException e) {
            loaded.forEach(OnnxGraph::close);
            throw e;
        }
    }

    private static String only(Map<String, ?> tensors, String what) {
        if (tensors == null || tensors.size() != 1) {
            throw new IllegalArgumentException("model.json: expected exactly one tensor in " + what + ", got "
                    + (tensors == null ? "none" : tensors.keySet()));
        }
        return tensors.keySet().iterator().next();
    }

    public ModelManifest manifest() {
        return manifest;
    }

    public Preprocessor preprocessor() {
        return preprocessor;
    }

    /**
     * Runs one blank image through every graph. ONNX Runtime sets up a session's kernels and memory on its
     * first run, which made a stage's first batch several times slower than the next; done at load time,
     * that cost overlaps whatever else is starting.
     */
    public void warmUp() throws TranslateException {
        int lr = preprocessor.lrSize();
        int hr = preprocessor.hrSize();
        float[] hrPixels = manifest.vision().hasHighResolution() ? new float[3 * hr * hr] : null;
        encode(List.of(new PixelViews(new float[preprocessor.lrViewsPerImage() * 3 * lr * lr], hrPixels)));
    }

    /** Encodes a batch of preprocessed images in one call per graph. */
    public Encoded encode(List<PixelViews> batch) throws TranslateException {
        if (batch.isEmpty()) {
            return new Encoded(List.of(), 0, 0, 0, 0, 0);
        }
        Predictors p = perThread.get();
        int b = batch.size();
        int views = preprocessor.lrViewsPerImage();
        int lr = preprocessor.lrSize();
        int hr = preprocessor.hrSize();
        try (NDManager m = base.newSubManager()) {
            long t0 = System.nanoTime();
            NDArray lrPixels = m.create(concat(batch, true), new Shape((long) b * views, 3, lr, lr)); // (B*k, 3, lr, lr)
            lrPixels.setName(lrInput);
            NDArray lrFeatures = output(p.lr.predict(new NDList(lrPixels)), lrOutput);               // (B*k, N, C)
            lrFeatures.setName(lrOutput);
            long t1 = System.nanoTime();
            NDList projectorIn = new NDList(lrFeatures);
            if (hrGraph != null) {
                NDArray hrPixels = m.create(concat(batch, false), new Shape(b, 3, hr, hr));           // (B, 3, hr, hr)
                hrPixels.setName(hrInput);
                NDArray hrFeatures = output(p.hr.predict(new NDList(hrPixels)), hrOutput);          // (B, C', H, W)
                if (preprocessor.grid() > 0) {
                    hrFeatures = splitForGrid(m, hrFeatures, preprocessor.grid());                   // (B*k, C', H/g, W/g)
                }
                hrFeatures.setName(hrOutput);
                projectorIn.add(hrFeatures);
            }
            long t2 = System.nanoTime();
            NDArray tokens = output(p.projector.predict(projectorIn), tokensOutput);                 // (B*k, N, D)
            float[] all = Tensors.toFloats(tokens);
            long t3 = System.nanoTime();
            long[] shape = tokens.getShape().getShape();
            int perView = (int) shape[1];
            int dim = (int) shape[2];
            int perImage = views * perView * dim;
            List<float[]> out = new ArrayList<>(b);
            for (int i = 0; i < b; i++) {
                float[] one = new float[perImage];
                System.arraycopy(all, i * perImage, one, 0, perImage);
                out.add(one);
            }
            return new Encoded(out, views * perView, dim, t1 - t0, t2 - t1, t3 - t2);
        }
    }

    private static NDArray output(NDList results, String name) {
        NDArray named = results.get(name);
        return named != null ? named : results.head();
    }

    private static float[] concat(List<PixelViews> batch, boolean lr) {
        int per = lr ? batch.get(0).lr().length : batch.get(0).hr().length;
        float[] all = new float[batch.size() * per];
        for (int i = 0; i < batch.size(); i++) {
            float[] src = lr ? batch.get(i).lr() : batch.get(i).hr();
            System.arraycopy(src, 0, all, i * per, per);
        }
        return all;
    }

    /** {@code (B, C, H, W)} to {@code (B*(g^2+1), C, H/g, W/g)}: per image the pooled whole, then the tiles. */
    static NDArray splitForGrid(NDManager m, NDArray features, int g) {
        long[] s = features.getShape().getShape();
        int b = (int) s[0];
        int c = (int) s[1];
        int h = (int) s[2];
        int w = (int) s[3];
        if (h % g != 0 || w % g != 0) {
            throw new IllegalStateException("HR feature map " + h + "x" + w + " does not split into a " + g + "x" + g
                    + " grid");
        }
        float[] in = Tensors.toFloats(features);
        float[] out = splitForGrid(in, b, c, h, w, g);
        return Tensors.create(m, out, new Shape((long) b * (g * g + 1), c, h / g, w / g), features.getDataType());
    }

    static float[] splitForGrid(float[] in, int b, int c, int h, int w, int g) {
        int th = h / g;
        int tw = w / g;
        int tile = c * th * tw;
        int k = g * g + 1;
        float[] out = new float[b * k * tile];
        float inv = 1.0f / (g * g);
        for (int i = 0; i < b; i++) {
            int src = i * c * h * w;
            int dst = i * k * tile;
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < th; y++) {
                    for (int x = 0; x < tw; x++) {
                        float sum = 0;
                        for (int dy = 0; dy < g; dy++) {
                            for (int dx = 0; dx < g; dx++) {
                                sum += in[src + ch * h * w + (y * g + dy) * w + x * g + dx];
                            }
                        }
                        out[dst + ch * th * tw + y * tw + x] = sum * inv;
                    }
                }
            }
            for (int ty = 0; ty < g; ty++) {
                for (int tx = 0; tx < g; tx++) {
                    int t = dst + (1 + ty * g + tx) * tile;
                    for (int ch = 0; ch < c; ch++) {
                        for (int y = 0; y < th; y++) {
                            System.arraycopy(in, src + ch * h * w + (ty * th + y) * w + tx * tw, out,
                                    t + ch * th * tw + y * tw, tw);
                        }
                    }
                }
            }
        }
        return out;
    }

    private Predictors newPredictors() {
        Predictors p = new Predictors(lrGraph.newPredictor(), hrGraph == null ? null : hrGraph.newPredictor(),
                projectorGraph.newPredictor());
        created.add(p);
        return p;
    }

    @Override
    public void close() {
        Predictors p;
        while ((p = created.poll()) != null) {
            p.close();
        }
        base.close();
        projectorGraph.close();
        if (hrGraph != null) {
            hrGraph.close();
        }
        lrGraph.close();
    }
}
