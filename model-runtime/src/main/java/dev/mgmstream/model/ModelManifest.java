package dev.mgmstream.model;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code model.json} of an exported model: which graphs to run, their tensor names and shapes,
 * how to preprocess images, and how to prompt and stop the language model. The same fields describe
 * mgm-tiny and a real Mini-Gemini export (see models/README.md), so the stages need no model code.
 */
public record ModelManifest(
        Path dir,
        String format,
        String modelId,
        String family,
        Vision vision,
        LanguageModel languageModel,
        TokenizerSpec tokenizer,
        Chat chat,
        GenerationDefaults generationDefaults) {

    public static final String FORMAT = "mgm-stream/manifest@1";

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public ModelManifest {
        Objects.requireNonNull(dir, "dir");
        if (!FORMAT.equals(format)) {
            throw new IllegalArgumentException(
                    "model.json in " + dir + " has format " + format + ", expected " + FORMAT);
        }
        Objects.requireNonNull(modelId, "model_id");
        Objects.requireNonNull(vision, "vision");
        Objects.requireNonNull(languageModel, "language_model");
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(chat, "chat");
    }

    /** Reads {@code dir/model.json}. */
    public static ModelManifest load(Path dir) {
        Path file = dir.resolve("model.json");
        try {
            Raw raw = JSON.readValue(Files.readAllBytes(file), Raw.class);
            return new ModelManifest(dir.toAbsolutePath().normalize(), raw.format(), raw.modelId(), raw.family(),
                    raw.vision(), raw.languageModel(), raw.tokenizer(), raw.chat(), raw.generationDefaults());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model manifest " + file, e);
        }
    }

    /** A file of the export, resolved against the manifest's folder. */
    public Path file(String name) {
        return dir.resolve(name);
    }

    record Raw(String format, String modelId, String family, Vision vision, LanguageModel languageModel,
               TokenizerSpec tokenizer, Chat chat, GenerationDefaults generationDefaults) {}

    /** One tensor: its shape (-1 for a dynamic axis) and element type. */
    public record TensorSpec(List<Long> shape, String dtype) {}

    /** One ONNX graph and its named inputs and outputs. */
    public record Component(String file, Map<String, TensorSpec> inputs, Map<String, TensorSpec> outputs) {}

    public record Mining(boolean enabled, int subPatchSide) {}

    /**
     * One view's size and filter. {@code source = "hr"} derives the LR view from the normalised HR tensor:
     * {@code resize = "area"} average-pools it (mgm-tiny), {@code "bilinear"} resamples it as
     * {@code F.interpolate(hr, size, mode="bilinear", align_corners=False)} does without antialiasing, which is
     * how the released Mini-Gemini checkpoints derive their CLIP view (768 to 336 is not a whole ratio).
     */
    public record ViewSpec(int size, String resize, String source, Boolean antialias, Boolean alignCorners) {
        public ViewSpec(int size, String resize, String source) {
            this(size, resize, source, null, null);
        }
    }

    public record Preprocess(boolean padToSquare, List<Integer> padColor, ViewSpec hr, ViewSpec lr,
                             double rescale, List<Double> mean, List<Double> std, String layout) {}

    /**
     * The vision side. {@code hrEncoder} is absent for an LR-only model; {@code hdGrid} above 0 asks for
     * Mini-Gemini-HD's token extension (a grid of LR sub-images plus a global view).
     */
    public record Vision(int imageTokenCount, int hdGrid, Mining mining, Preprocess preprocess,
                         Component lrEncoder, Component hrEncoder, Component projector,
                         String visualTokensDtype) {
        public boolean hasHighResolution() {
            return hrEncoder != null && mining != null && mining.enabled();
        }
    }

    /** The decoder graph, with the naming patterns of its KV-cache tensors ({layer} is replaced). */
    public record Decoder(String file, Map<String, TensorSpec> inputs, Map<String, TensorSpec> outputs,
                          String pastKey, String pastValue, String presentKey, String presentValue,
                          String kvDtype, String logits) {

        public Decoder(String file, Map<String, TensorSpec> inputs, Map<String, TensorSpec> outputs,
                       String pastKey, String pastValue, String presentKey, String presentValue) {
            this(file, inputs, outputs, pastKey, pastValue, presentKey, presentValue, null, null);
        }

        /**
         * Whether the graph returns the logits of the last position only ({@code logits: "last"}): a real
         * vocabulary times a few hundred prompt positions would not fit a Java array, and only the last is used.
         */
        public boolean lastLogitsOnly() {
            return "last".equals(logits);
        }

        /** The element type of the past and present key/value tensors; float32 when the manifest is silent. */
        public String kvElementType() {
            return kvDtype == null ? "float32" : kvDtype;
        }

        public String pastKey(int layer) {
            return pastKey.replace("{layer}", Integer.toString(layer));
        }

        public String pastValue(int layer) {
            return pastValue.replace("{layer}", Integer.toString(layer));
        }

        public String presentKey(int layer) {
            return presentKey.replace("{layer}", Integer.toString(layer));
        }

        public String presentValue(int layer) {
            return presentValue.replace("{layer}", Integer.toString(layer));
        }
    }

    public record LanguageModel(Component embedTokens, Decoder decoder, int hiddenSize, int numLayers,
                                int numKvHeads, int headDim, int vocabSize, int contextLength,
                                double embeddingsScale) {}

    /**
     * The tokenizer and its special tokens. When {@code imageTokenInVocab} is false (the released checkpoints:
     * Gemma and LLaMA have no {@code <image>} token), the prompt is tokenised in chunks around the placeholder
     * and the image's place is marked with {@code imageTokenId} (-200, as the official code does), which is
     * never looked up in the embedding table.
     */
    public record TokenizerSpec(String file, String imageToken, String padToken, String bosToken, boolean addBos,
                                Boolean imageTokenInVocab, Long imageTokenId, Boolean cleanUpTokenizationSpaces) {

        public TokenizerSpec(String file, String imageToken, String padToken, String bosToken, boolean addBos) {
            this(file, imageToken, padToken, bosToken, addBos, null, null, null);
        }

        public boolean imageTokenIsSentinel() {
            return Boolean.FALSE.equals(imageTokenInVocab);
        }
    }

    /**
     * How to prompt and stop the model. {@code generationSuffix} is appended to the prompt of a generate task
     * (the released checkpoints were trained with {@code " <GEN>"}); {@code generationPrompt} says how the
     * prompt for the image generator is found in the answer: {@code "whole"} (the answer is exactly one tagged
     * prompt, mgm-tiny) or {@code "last"} (the last tagged prompt, text around it allowed, as the official
     * code takes it). {@code stripAnswer}: the answer is trimmed, as the official code trims what it decodes.
     */
    public record Chat(String template, String promptFormat, List<String> stopTokens, List<String> stopStrings,
                       List<String> generationTags, Map<String, String> defaultPrompts, String generationSuffix,
                       String generationPrompt, Boolean stripAnswer) {

        public Chat(String template, String promptFormat, List<String> stopTokens, List<String> stopStrings,
                    List<String> generationTags, Map<String, String> defaultPrompts) {
            this(template, promptFormat, stopTokens, stopStrings, generationTags, defaultPrompts, null, null, null);
        }
    }

    public record GenerationDefaults(int maxNewTokens, double temperature, double topP) {}
}
