package dev.mgmstream.model.diffusion;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.TranslateException;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.OnnxGraph;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A text-to-image generator with SDXL's split, run from its manifest: text encoders, then the Euler
 * sampler over the UNet with classifier-free guidance, then the VAE decoder. The requests of one call
 * share every graph call (the negative and positive rows of classifier-free guidance are one batch),
 * grouped by step count. Thread-safe: each call makes its own predictors and scopes its native memory.
 */
public final class TextToImage implements AutoCloseable {

    /** One image to make. {@code negativePrompt} may be empty (the unconditional prompt). */
    public record Request(String prompt, String negativePrompt, long seed, int steps, double guidance) {}

    /** An image as interleaved 8-bit RGB rows. */
    public record Image(int width, int height, byte[] rgb) {}

    private record Encoder(GeneratorManifest.TextEncoder spec, HuggingFaceTokenizer tokenizer, OnnxGraph graph,
                           long bos, long eos, long pad) {}

    private final GeneratorManifest manifest;
    private final List<Encoder> encoders;
    private final OnnxGraph unet;
    private final OnnxGraph vae;

    private TextToImage(GeneratorManifest manifest, List<Encoder> encoders, OnnxGraph unet, OnnxGraph vae) {
        this.manifest = manifest;
        this.encoders = encoders;
        this.unet = unet;
        this.vae = vae;
    }

    public static TextToImage load(GeneratorManifest manifest, EngineOptions engine) {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            List<Encoder> encoders = new ArrayList<>();
            for (GeneratorManifest.TextEncoder te : manifest.textEncoders()) {
                HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(manifest.file(te.tokenizer().file()),
                        Map.of("addSpecialTokens", Boolean.toString(te.tokenizer().addSpecialTokens()),
                                "truncation", "false", "padding", "false"));
                opened.add(tok);
                OnnxGraph g = OnnxGraph.load(manifest.file(te.file()), engine);
                opened.add(g);
                encoders.add(new Encoder(te, tok, g, id(tok, te.tokenizer().bos()), id(tok, te.tokenizer().eos()),
                        id(tok, te.tokenizer().pad())));
            }
            OnnxGraph u = OnnxGraph.load(manifest.file(manifest.unet().file()), engine);
            opened.add(u);
            OnnxGraph v = OnnxGraph.load(manifest.file(manifest.vaeDecoder().file()), engine);
            opened.add(v);
            return new TextToImage(manifest, List.copyOf(encoders), u, v);
        } catch (IOException e) {
            closeAll(opened);
            throw new UncheckedIOException("cannot read a tokenizer of " + manifest.dir(), e);
        } catch (RuntimeException e) {
            closeAll(opened);
            throw e;
        }
    }

    private static long id(HuggingFaceTokenizer tok, String token) {
        if (token == null) {
            return -1;
        }
        long[] ids = tok.encode(token, false, false).getIds();
        if (ids.length != 1) {
            throw new IllegalArgumentException("special token '" + token + "' is not a single token (" + ids.length
                    + " ids)");
        }
        return ids[0];
    }

    public GeneratorManifest manifest() {
        return manifest;
    }

    public String modelId() {
        return manifest.modelId();
    }

    /**
     * Checks a request without running anything: the prompts fit every encoder's length, steps and
     * guidance are in range. Throws IllegalArgumentException saying what is wrong.
     */
    public void validate(Request r) {
        if (r.prompt() == null || r.prompt().isBlank()) {
            throw new IllegalArgumentException("the generation prompt is empty");
        }
        if (r.steps() < 1 || r.steps() > manifest.scheduler().trainTimesteps()) {
            throw new IllegalArgumentException("steps must be between 1 and " + manifest.scheduler().trainTimesteps()
                    + ", got " + r.steps());
        }
        if (!(r.guidance() >= 0 && r.guidance() <= 50)) {
            throw new IllegalArgumentException("guidance must be between 0 and 50, got " + r.guidance());
        }
        for (Encoder e : encoders) {
            tokenize(e, r.prompt());
            tokenize(e, r.negativePrompt() == null ? "" : r.negativePrompt());
        }
    }

    /** One image per request, in order. */
    public List<Image> generate(List<Request> requests) throws TranslateException {
        for (Request r : requests) {
            validate(r);
        }
        Map<Integer, List<Integer>> bySteps = new LinkedHashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            bySteps.computeIfAbsent(requests.get(i).steps(), k -> new ArrayList<>()).add(i);
        }
        Image[] out = new Image[requests.size()];
        for (Map.Entry<Integer, List<Integer>> group : bySteps.entrySet()) {
            List<Request> rs = new ArrayList<>();
            for (int i : group.getValue()) {
                rs.add(requests.get(i));
            }
            List<Image> images = generateGroup(rs, group.getKey());
            for (int k = 0; k < rs.size(); k++) {
                out[group.getValue().get(k)] = images.get(k);
            }
        }
        return List.of(out);
    }

    private List<Image> generateGroup(List<Request> rs, int steps) throws TranslateException {
        int b = rs.size();
        GeneratorManifest.Latent lat = manifest.latent();
        int per = lat.size();
        EulerDiscreteScheduler scheduler = EulerDiscreteScheduler.create(manifest.scheduler(), steps);
        float[] latents = new float[b * per];
        float init = scheduler.initNoiseSigma();
        for (int r = 0; r < b; r++) {
            float[] noise = GaussianNoise.normal(rs.get(r).seed(), per);
            for (int k = 0; k < per; k++) {
                latents[r * per + k] = noise[k] * init;
            }
        }
        GeneratorManifest.Unet u = manifest.unet();
        try (NDManager m = unet.manager().newSubManager();
             Predictor<NDList, NDList> unetPredictor = unet.newPredictor()) {
            // rows 0..b-1 are the negative prompts, b..2b-1 the prompts, as in the Python sampler
            List<String> texts = new ArrayList<>();
            for (Request r : rs) {
                texts.add(r.negativePrompt() == null ? "" : r.negativePrompt());
            }
            for (Request r : rs) {
                texts.add(r.prompt());
            }
            NDList conditions = encodePrompts(texts, m);
            NDArray context = conditions.get(0);
            context.setName(u.encoderHiddenStates());
            NDArray pooled = conditions.get(1);
            pooled.setName(u.textEmbeds());
            float[] tids = new float[2 * b * 6];
            for (int r = 0; r < 2 * b; r++) {
                for (int k = 0; k < 6; k++) {
                    tids[r * 6 + k] = manifest.timeIds().get(k).floatValue();
                }
            }
            NDArray timeIds = m.create(tids, new Shape(2L * b, 6));
            timeIds.setName(u.timeIds());
            Shape sampleShape = new Shape(2L * b, lat.channels(), lat.height(), lat.width());
            for (int i = 0; i < steps; i++) {
                try (NDManager step = m.newSubManager()) {
                    double divisor = Math.sqrt((double) scheduler.sigma(i) * scheduler.sigma(i) + 1.0);
                    float[] in = new float[2 * b * per];
                    for (int k = 0; k < b * per; k++) {
                        float v = (float) (latents[k] / divisor);
                        in[k] = v;
                        in[b * per + k] = v;
                    }
                    NDArray sample = step.create(in, sampleShape);
                    sample.setName(u.sample());
                    NDArray t;
                    if ("int64".equals(u.timestepDtype())) {
                        long[] ts = new long[2 * b];
                        java.util.Arrays.fill(ts, (long) scheduler.timestep(i));
                        t = step.create(ts, new Shape(2L * b));
                    } else {
                        float[] ts = new float[2 * b];
                        java.util.Arrays.fill(ts, scheduler.timestep(i));
                        t = step.create(ts, new Shape(2L * b));
                    }
                    t.setName(u.timestep());
                    NDArray out = unetPredictor.predict(new NDList(sample, t, context, pooled, timeIds)).get(u.output());
                    if (out == null) {
                        throw new IllegalStateException(u.file() + " has no output '" + u.output() + "'");
                    }
                    float[] eps = out.toType(DataType.FLOAT32, false).toFloatArray();
                    float[] guided = new float[b * per];
                    for (int r = 0; r < b; r++) {
                        float g = (float) rs.get(r).guidance();
                        for (int k = 0; k < per; k++) {
                            float neg = eps[r * per + k];
                            float pos = eps[(b + r) * per + k];
                            guided[r * per + k] = neg + g * (pos - neg);
                        }
                    }
                    scheduler.step(i, latents, guided);
                }
            }
            return decode(latents, b, m);
        }
    }

    /**
     * Prompt embeddings (the encoders' hidden states concatenated on channels, done here in Java: ONNX
     * Runtime's arrays have no operators of their own) and the pooled embedding.
     */
    private NDList encodePrompts(List<String> texts, NDManager m) throws TranslateException {
        int rows = texts.size();
        List<float[]> hidden = new ArrayList<>();
        List<Integer> widths = new ArrayList<>();
        float[] pooled = null;
        long pooledWidth = 0;
        long len = -1;
        for (Encoder e : encoders) {
            int max = e.spec().tokenizer().maxLength();
            long[] ids = new long[rows * max];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(tokenize(e, texts.get(r)), 0, ids, r * max, max);
            }
            try (NDManager local = m.newSubManager();
                 Predictor<NDList, NDList> p = e.graph().newPredictor()) {
                NDArray in = local.create(ids, new Shape(rows, max));
                in.setName(e.spec().input());
                NDList out = p.predict(new NDList(in));
                NDArray h = output(out, e.spec().hiddenOutput(), e.spec().file());
                if (len >= 0 && h.getShape().get(1) != len) {
                    throw new IllegalStateException("text encoders disagree on the sequence length: " + len
                            + " and " + h.getShape().get(1));
                }
                len = h.getShape().get(1);
                widths.add((int) h.getShape().get(2));
                hidden.add(h.toType(DataType.FLOAT32, false).toFloatArray());
                if (e.spec().pooledOutput() != null) {
                    NDArray pl = output(out, e.spec().pooledOutput(), e.spec().file());
                    pooledWidth = pl.getShape().get(1);
                    pooled = pl.toType(DataType.FLOAT32, false).toFloatArray();
                }
            }
        }
        int total = widths.stream().mapToInt(Integer::intValue).sum();
        float[] context = new float[(int) (rows * len * total)];
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < len; t++) {
                int at = (int) ((r * len + t) * total);
                for (int k = 0; k < hidden.size(); k++) {
                    int w = widths.get(k);
                    System.arraycopy(hidden.get(k), (int) ((r * len + t) * w), context, at, w);
                    at += w;
                }
            }
        }
        return new NDList(m.create(context, new Shape(rows, len, total)),
                m.create(pooled, new Shape(rows, pooledWidth)));
    }

    private static NDArray output(NDList out, String name, String file) {
        NDArray a = out.get(name);
        if (a == null) {
            throw new IllegalStateException(file + " has no output '" + name + "'");
        }
        return a;
    }

    /** bos + ids + eos, padded to the encoder's length; throws when the prompt does not fit. */
    private static long[] tokenize(Encoder e, String text) {
        GeneratorManifest.TokenizerSpec spec = e.spec().tokenizer();
        long[] body = text.isEmpty() ? new long[0] : e.tokenizer().encode(text, spec.addSpecialTokens(), false).getIds();
        int extra = (e.bos() >= 0 && !spec.addSpecialTokens() ? 1 : 0) + (e.eos() >= 0 && !spec.addSpecialTokens() ? 1 : 0);
        int len = spec.maxLength();
        if (body.length + extra > len) {
            throw new IllegalArgumentException("the generation prompt is " + (body.length + extra)
                    + " tokens for " + e.spec().file() + ", which takes at most " + len);
        }
        long[] row = new long[len];
        java.util.Arrays.fill(row, e.pad() >= 0 ? e.pad() : (e.eos() >= 0 ? e.eos() : 0));
        int k = 0;
        if (e.bos() >= 0 && !spec.addSpecialTokens()) {
            row[k++] = e.bos();
        }
        for (long id : body) {
            row[k++] = id;
        }
        if (e.eos() >= 0 && !spec.addSpecialTokens()) {
            row[k] = e.eos();
        }
        return row;
    }

    private List<Image> decode(float[] latents, int b, NDManager m) throws TranslateException {
        GeneratorManifest.Latent lat = manifest.latent();
        float[] scaled = new float[latents.length];
        for (int k = 0; k < latents.length; k++) {
            scaled[k] = (float) (latents[k] / lat.scalingFactor());
        }
        NDArray z = m.create(scaled, new Shape(b, lat.channels(), lat.height(), lat.width()));
        z.setName(manifest.vaeDecoder().input());
        float[] px;
        long h;
        long w;
        try (Predictor<NDList, NDList> p = vae.newPredictor()) {
            NDArray out = p.predict(new NDList(z)).get(manifest.vaeDecoder().output());
            if (out == null) {
                throw new IllegalStateException(manifest.vaeDecoder().file() + " has no output '"
                        + manifest.vaeDecoder().output() + "'");
            }
            h = out.getShape().get(2);
            w = out.getShape().get(3);
            px = out.toType(DataType.FLOAT32, false).toFloatArray();
        }
        List<Image> images = new ArrayList<>();
        int plane = (int) (h * w);
        for (int r = 0; r < b; r++) {
            byte[] rgb = new byte[plane * 3];
            for (int c = 0; c < 3; c++) {
                int base = (r * 3 + c) * plane;
                for (int k = 0; k < plane; k++) {
                    float v = px[base + k] / 2f + 0.5f;
                    v = Math.min(1f, Math.max(0f, v));
                    rgb[k * 3 + c] = (byte) (int) Math.floor(v * 255f + 0.5f);
                }
            }
            images.add(new Image((int) w, (int) h, rgb));
        }
        return images;
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>();
        for (Encoder e : encoders) {
            all.add(e.graph());
            all.add(e.tokenizer());
        }
        all.add(unet);
        all.add(vae);
        closeAll(all);
    }

    private static void closeAll(List<AutoCloseable> items) {
        for (AutoCloseable c : items) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing the rest matters more than one failure
            }
        }
    }
}
