package dev.mgmstream.model.diffusion;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The {@code model.json} of an exported text-to-image generator with SDXL's split: one or two text
 * encoders (the hidden states of all of them are concatenated into the prompt embeddings; the one
 * with a pooled output gives the added text embedding), a UNet taking latents, timestep, prompt
 * embeddings, text embeddings and time ids, and a VAE decoder. The same fields describe mgm-gen-tiny
 * and a real SDXL ONNX export (see models/README.md), so the generation stage needs no model code.
 */
public record GeneratorManifest(
        Path dir,
        String format,
        String modelId,
        Image image,
        Latent latent,
        List<TextEncoder> textEncoders,
        Unet unet,
        VaeDecoder vaeDecoder,
        List<Double> timeIds,
        Scheduler scheduler,
        String noise,
        Defaults defaults) {

    public static final String FORMAT = "mgm-stream/generator@1";
    public static final String NOISE = "splitmix64-box-muller";

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public GeneratorManifest {
        Objects.requireNonNull(dir, "dir");
        if (!FORMAT.equals(format)) {
            throw new IllegalArgumentException(
                    "model.json in " + dir + " has format " + format + ", expected " + FORMAT);
        }
        Objects.requireNonNull(modelId, "model_id");
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(latent, "latent");
        Objects.requireNonNull(unet, "unet");
        Objects.requireNonNull(vaeDecoder, "vae_decoder");
        Objects.requireNonNull(scheduler, "scheduler");
        if (textEncoders == null || textEncoders.isEmpty()) {
            throw new IllegalArgumentException("model.json in " + dir + " names no text encoder");
        }
        if (textEncoders.stream().filter(t -> t.pooledOutput() != null).count() != 1) {
            throw new IllegalArgumentException("model.json in " + dir
                    + ": exactly one text encoder must give the pooled output (SDXL's text_embeds)");
        }
        if (timeIds == null || timeIds.size() != 6) {
            throw new IllegalArgumentException("model.json in " + dir + ": time_ids must hold 6 numbers");
        }
        if (noise != null && !NOISE.equals(noise)) {
            throw new IllegalArgumentException("model.json in " + dir + ": unknown noise '" + noise + "'");
        }
        if (defaults == null) {
            defaults = new Defaults(20, 5.0, "");
        }
    }

    /** Reads {@code dir/model.json}. */
    public static GeneratorManifest load(Path dir) {
        Path file = dir.resolve("model.json");
        try {
            Raw r = JSON.readValue(Files.readAllBytes(file), Raw.class);
            return new GeneratorManifest(dir.toAbsolutePath().normalize(), r.format(), r.modelId(), r.image(),
                    r.latent(), r.textEncoders(), r.unet(), r.vaeDecoder(), r.timeIds(), r.scheduler(), r.noise(),
                    r.defaults());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read generator manifest " + file, e);
        }
    }

    /** True when {@code dir/model.json} exists and declares this format (the CLI tells generators apart). */
    public static boolean isGenerator(Path dir) {
        Path file = dir.resolve("model.json");
        if (!Files.isRegularFile(file)) {
            return false;
        }
        try {
            return FORMAT.equals(JSON.readTree(Files.readAllBytes(file)).path("format").asText());
        } catch (IOException e) {
            return false;
        }
    }

    public Path file(String name) {
        return dir.resolve(name);
    }

    record Raw(String format, String modelId, Image image, Latent latent, List<TextEncoder> textEncoders, Unet unet,
               VaeDecoder vaeDecoder, List<Double> timeIds, Scheduler scheduler, String noise, Defaults defaults) {}

    public record Image(int width, int height) {}

    public record Latent(int channels, int height, int width, double scalingFactor) {
        public int size() {
            return channels * height * width;
        }
    }

    /**
     * How a prompt becomes token ids for one encoder: {@code bos} and {@code eos} added around the
     * tokenizer's ids (unless the tokenizer adds them itself), then {@code pad} up to {@code maxLength}.
     */
    public record TokenizerSpec(String file, int maxLength, String bos, String eos, String pad,
                                boolean addSpecialTokens) {}

    public record TextEncoder(String file, TokenizerSpec tokenizer, String input, String hiddenOutput,
                              String pooledOutput) {}

    public record Unet(String file, String sample, String timestep, String timestepDtype,
                       String encoderHiddenStates, String textEmbeds, String timeIds, String output) {}

    public record VaeDecoder(String file, String input, String output) {}

    public record Scheduler(String type, int trainTimesteps, double betaStart, double betaEnd, String betaSchedule,
                            String timestepSpacing, int stepsOffset, String predictionType) {
        public Scheduler {
            if (!"euler_discrete".equals(type)) {
                throw new IllegalArgumentException("unsupported scheduler '" + type + "' (euler_discrete)");
            }
            if (predictionType != null && !"epsilon".equals(predictionType)) {
                throw new IllegalArgumentException("unsupported prediction type '" + predictionType + "' (epsilon)");
            }
        }
    }

    public record Defaults(int steps, double guidance, String negativePrompt) {}
}
