package dev.mgmstream.model.lm;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.TranslateException;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.OnnxGraph;
import dev.mgmstream.model.Tensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The language-model half of an export: the token-embedding and decoder graphs, the tokenizer and the
 * chat format, loaded once and shared by every worker thread. Each worker decodes through its own
 * {@link Generator} ({@link #newGenerator}), since DJL predictors are not thread-safe.
 *
 * <pre>{@code
 * try (LanguageModel lm = LanguageModel.load(ModelManifest.load(dir), EngineOptions.CPU);
 *      Generator gen = lm.newGenerator(BatchingOptions.continuous(32))) {
 *     Prompt p = lm.prompt("t1", "What color is the circle?", visualTokens, 9, SamplingParams.greedy(96));
 *     Completion c = gen.generate(List.of(p)).get(0);
 * }
 * }</pre>
 */
public final class LanguageModel implements AutoCloseable {

    static final String INPUTS_EMBEDS = "inputs_embeds";
    static final String ATTENTION_MASK = "attention_mask";
    static final String POSITION_IDS = "position_ids";
    /** Token embeddings kept in Java: 64 MiB, every row of mgm-tiny, a few thousand of a 2B model. */
    static final long EMBEDDING_CACHE_FLOATS = 16L << 20;
    /** Where the official prompt code puts the image when the vocabulary has no image token. */
    static final long IMAGE_SENTINEL = -200;

    private final ModelManifest manifest;
    private final ModelManifest.LanguageModel spec;
    private final HuggingFaceTokenizer tokenizer;
    private final ChatPrompt chat;
    private final OnnxGraph embed;
    private final DecoderBackend decoder;
    private final long imageTokenId;
    private final boolean imageIsSentinel;
    private final long bosId;
    private final DataType embedsType;
    private final long padId;
    private final Set<Long> stopIds;
    private final List<String> stopStrings;
    private final String embedInput;
    private final TokenEmbeddings embeddings;

    private LanguageModel(ModelManifest manifest, HuggingFaceTokenizer tokenizer, OnnxGraph embed, DecoderBackend decoder) {
        this.manifest = manifest;
        this.spec = manifest.languageModel();
        this.tokenizer = tokenizer;
        this.embed = embed;
        this.decoder = decoder;
        this.chat = ChatPrompt.fromManifest(manifest);
        ModelManifest.TokenizerSpec tok = manifest.tokenizer();
        this.imageIsSentinel = tok.imageTokenIsSentinel();
        this.imageTokenId = imageIsSentinel ? (tok.imageTokenId() == null ? IMAGE_SENTINEL : tok.imageTokenId())
                : singleId(chat.imageToken(), "tokenizer.image_token");
        if (imageIsSentinel && imageTokenId >= 0) {
            throw new IllegalArgumentException("tokenizer.image_token_id of " + manifest.dir() + " is " + imageTokenId
                    + "; a placeholder outside the vocabulary must be negative");
        }
        this.bosId = tok.addBos() && tok.bosToken() != null ? singleId(tok.bosToken(), "tokenizer.bos_token") : -1;
        this.embedsType = embedsType(spec);
        String pad = manifest.tokenizer().padToken();
        this.padId = pad == null ? 0 : singleId(pad, "tokenizer.pad_token");
        this.stopIds = new HashSet<>();
        List<String> stopTokens = manifest.chat().stopTokens() == null ? List.of() : manifest.chat().stopTokens();
        for (String t : stopTokens) {
            stopIds.add(singleId(t, "chat.stop_tokens"));
        }
        // A stop string that is itself a stop token is already caught by its id, and special tokens never
        // reach the decoded text; checking the text only for the others saves a decode per step.
        List<String> strings = new ArrayList<>(chat.stopStrings());
        strings.removeAll(stopTokens);
        strings.removeIf(String::isEmpty);
        this.stopStrings = List.copyOf(strings);
        var inputs = spec.decoder().inputs();
        for (String name : List.of(INPUTS_EMBEDS, ATTENTION_MASK, POSITION_IDS)) {
            if (!inputs.containsKey(name)) {
                throw new IllegalArgumentException("decoder of " + manifest.dir() + " has no input '" + name
                        + "' (has " + inputs.keySet() + ")");
            }
        }
        this.embedInput = spec.embedTokens().inputs().keySet().iterator().next();
        this.embeddings = new TokenEmbeddings(spec.hiddenSize(), spec.embeddingsScale(), embedInput, EMBEDDING_CACHE_FLOATS);
    }

    private static DataType embedsType(ModelManifest.LanguageModel spec) {
        var embedsSpec = spec.decoder().inputs().get(INPUTS_EMBEDS);
        return Tensors.dataType(embedsSpec == null ? null : embedsSpec.dtype());
    }

    /**
     * The decoder as the engine options say: through DJL, or with {@code ioBinding} through the backend a
     * {@link DecoderBackendProvider} on the class path offers (Java 22+).
     */
    static DecoderBackend openDecoder(ModelManifest manifest, EngineOptions engine) {
        if (!engine.ioBinding()) {
            OnnxGraph graph = OnnxGraph.load(manifest.file(manifest.languageModel().decoder().file()), engine);
            return new DjlDecoder(graph, manifest.languageModel(), embedsType(manifest.languageModel()));
        }
        try {
            for (DecoderBackendProvider p : java.util.ServiceLoader.load(DecoderBackendProvider.class)) {
                return p.open(manifest, engine);
            }
        } catch (java.util.ServiceConfigurationError | UnsupportedClassVersionError e) {
            boolean tooOld = e instanceof UnsupportedClassVersionError
                    || e.getCause() instanceof UnsupportedClassVersionError;
            throw new IllegalStateException("I/O binding of the decoder (reasoning.engine.io.binding) "
                    + (tooOld ? "needs Java 22 or later (this is Java " + Runtime.version().feature() + ")"
                    : "could not load its backend") + ": " + e.getMessage(), e);
        }
        throw new IllegalStateException("I/O binding of the decoder (reasoning.engine.io.binding) is on, but no "
                + "decoder backend is on the class path: it comes with the model-runtime-bound module (the "
                + "distribution's lib/ when built where a JDK 22+ is)");
    }

    /** Loads the graphs with the given engine options (the same ones the encoders use). */
    public static LanguageModel load(ModelManifest manifest, EngineOptions engine) {
        HuggingFaceTokenizer tok;
        try {
            // DJL truncates to 512 tokens unless told not to; a truncated prompt would pass the context check
            // and be answered wrongly, so the full prompt is kept and measured.
            tok = HuggingFaceTokenizer.newInstance(manifest.file(manifest.tokenizer().file()),
                    Map.of("addSpecialTokens", Boolean.toString(manifest.tokenizer().addBos()),
                            "truncation", "false", "padding", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer of " + manifest.dir(), e);
        }
        OnnxGraph e = null;
        DecoderBackend d = null;
        try {
            e = OnnxGraph.load(manifest.file(manifest.languageModel().embedTokens().file()), engine);
            d = openDecoder(manifest, engine);
            return new LanguageModel(manifest, tok, e, d);
        } catch (RuntimeException ex) {
            if (d != null) {
                d.close();
            }
            if (e != null) {
                e.close();
            }
            tok.close();
            throw ex;
        }
    }

    /**
     * Visual tokens one image contributes: N, or N x (grid² + 1) for Mini-Gemini-HD, whose LR view is a
     * grid of sub-images plus the whole image (5N for a 2 x 2 grid).
     */
    public int visualTokenCount() {
        ModelManifest.Vision v = manifest.vision();
        int n = v.imageTokenCount();
        return v.hdGrid() > 0 ? n * (v.hdGrid() * v.hdGrid() + 1) : n;
    }

    /**
     * Renders, tokenises and checks one task's prompt.
     *
     * @param visualTokens {@code visualCount x hidden} floats for this image
     * @throws PromptRejectedException when the visual tokens do not fit the model or the prompt its context
     */
    public Prompt prompt(String id, String userPrompt, float[] visualTokens, int visualCount, SamplingParams params) {
        int hidden = spec.hiddenSize();
        if (visualCount != visualTokenCount()) {
            throw new PromptRejectedException("the image has " + visualCount + " visual tokens, model "
                    + manifest.modelId() + " takes " + visualTokenCount());
        }
        if (visualTokens.length != visualCount * hidden) {
            throw new PromptRejectedException("visual tokens hold " + visualTokens.length + " values, expected "
                    + visualCount + " x " + hidden + " for model " + manifest.modelId());
        }
        long[] text = encodePrompt(chat.render(userPrompt));
        int images = 0;
        for (long id0 : text) {
            if (id0 == imageTokenId) {
                images++;
            }
        }
        if (images != 1) {
            throw new PromptRejectedException("the chat template must place the image token once, found " + images);
        }
        long[] ids = new long[text.length - 1 + visualCount];
        int j = 0;
        for (long t : text) {
            int repeat = t == imageTokenId ? visualCount : 1;
            for (int r = 0; r < repeat; r++) {
                ids[j++] = t;
            }
        }
        if (ids.length >= spec.contextLength()) {
            throw new PromptRejectedException("the prompt takes " + ids.length + " tokens (" + visualCount
                    + " of them visual), model " + manifest.modelId() + " has a context of " + spec.contextLength()
                    + " and needs room for at least one answer token");
        }
        return new Prompt(id, ids, visualTokens, visualCount, params);
    }

    long[] encode(String text) {
        return tokenizer.encode(text, manifest.tokenizer().addBos(), false).getIds();
    }

    /**
     * The prompt's ids with the image's place marked by {@link #imageTokenId()}. With an image token in the
     * vocabulary the text is tokenised whole. Without one, as the official {@code tokenizer_image_token} does:
     * each chunk between placeholders is tokenised on its own, with the tokenizer's BOS, which is then kept
     * once at the front and dropped from every chunk; the placeholder becomes the sentinel id.
     */
    long[] encodePrompt(String rendered) {
        if (!imageIsSentinel) {
            return encode(rendered);
        }
        String[] chunks = rendered.split(java.util.regex.Pattern.quote(chat.imageToken()), -1);
        List<long[]> ids = new ArrayList<>(chunks.length);
        for (String chunk : chunks) {
            ids.add(encode(chunk));
        }
        int offset = bosId >= 0 && ids.get(0).length > 0 && ids.get(0)[0] == bosId ? 1 : 0;
        int total = offset + chunks.length - 1;
        for (long[] c : ids) {
            total += Math.max(0, c.length - offset);
        }
        long[] out = new long[total];
        int j = 0;
        if (offset == 1) {
            out[j++] = bosId;
        }
        for (int i = 0; i < ids.size(); i++) {
            if (i > 0) {
                out[j++] = imageTokenId;
            }
            long[] c = ids.get(i);
            for (int k = offset; k < c.length; k++) {
                out[j++] = c[k];
            }
        }
        return out;
    }

    /**
     * The user's prompt for a generate task: with the manifest's {@code chat.generation_suffix} appended,
     * which the released checkpoints were trained to answer with a {@code <h>...</h>} prompt.
     */
    public String generationRequest(String userPrompt) {
        String suffix = manifest.chat().generationSuffix();
        return suffix == null || suffix.isEmpty() ? userPrompt : userPrompt + suffix;
    }

    /**
     * Answers one blank-image prompt (a prefill and a decode step), so that ONNX Runtime's first-run setup of
     * both graphs happens at load time rather than in the first batch of tasks.
     */
    public void warmUp() throws TranslateException {
        int n = visualTokenCount();
        Prompt p = prompt("warm-up", "Describe the image.", new float[n * spec.hiddenSize()], n,
                SamplingParams.greedy(2));
        try (Generator g = newGenerator(BatchingOptions.continuous(1))) {
            g.generate(List.of(p));
        }
    }

    /**
     * Decodes generated ids as the Python reference does: special tokens dropped; then, where the manifest
     * says so, transformers' clean-up of spaces before punctuation and contractions (which the Rust tokenizer
     * does not do) and trimming (mgm-tiny: neither).
     */
    public String decode(long[] ids) {
        String text = tokenizer.decode(ids, true);
        if (Boolean.TRUE.equals(manifest.tokenizer().cleanUpTokenizationSpaces())) {
            text = cleanUpTokenization(text);
        }
        return Boolean.TRUE.equals(manifest.chat().stripAnswer()) ? text.strip() : text;
    }

    private static final String[][] CLEAN_UP = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};

    /** transformers' {@code clean_up_tokenization}, replacement by replacement in its order. */
    static String cleanUpTokenization(String text) {
        for (String[] r : CLEAN_UP) {
            text = text.replace(r[0], r[1]);
        }
        return text;
    }

    public Generator newGenerator(BatchingOptions options) {
        return new Generator(this, options);
    }

    public ModelManifest manifest() {
        return manifest;
    }

    public String modelId() {
        return manifest.modelId();
    }

    public ChatPrompt chat() {
        return chat;
    }

    ModelManifest.LanguageModel spec() {
        return spec;
    }

    OnnxGraph embedGraph() {
        return embed;
    }

    DecoderBackend decoder() {
        return decoder;
    }

    /** How the decoder runs and where its cache lives, for logs. */
    public String decoderBackend() {
        return decoder.describe();
    }

    String embedInputName() {
        return embedInput;
    }

    TokenEmbeddings embeddings() {
        return embeddings;
    }

    long imageTokenId() {
        return imageTokenId;
    }

    DataType embedsType() {
        return embedsType;
    }

    long padId() {
        return padId;
    }

    boolean isStopToken(long id) {
        return stopIds.contains(id);
    }

    List<String> stopStrings() {
        return stopStrings;
    }

    private long singleId(String token, String field) {
        long[] ids = tokenizer.encode(token, false, false).getIds();
        if (ids.length != 1) {
            throw new IllegalArgumentException(field + " '" + token + "' is not a single token of the tokenizer of "
                    + manifest.dir() + " (encodes to " + ids.length + " ids)");
        }
        return ids[0];
    }

    @Override
    public void close() {
        decoder.close();
        embed.close();
        tokenizer.close();
    }
}
