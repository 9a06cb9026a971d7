package dev.mgmstream.generation;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.KeyedConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The generation stage's own configuration keys (the stage runtime's, the topic catalogue's and the
 * registry client's come on top), each documented in docs/configuration.md, and typed views of them.
 */
public final class GenerationConfig extends KeyedConfig {

    public static final ConfigKey MODEL_DIR = new ConfigKey("generation.model.dir", "models/mgm-gen-tiny",
            "Folder of the exported text-to-image generator (a model.json of format mgm-stream/generator@1: "
                    + "mgm-gen-tiny, or an SDXL export described as in models/README.md).");
    public static final ConfigKey ENGINE_PROVIDER = new ConfigKey("generation.engine.provider", "cpu",
            "ONNX Runtime execution provider for the generator: cpu, cuda or tensorrt (as for the other stages).");
    public static final ConfigKey ENGINE_DEVICE = new ConfigKey("generation.engine.device.id", "0",
            "GPU ordinal for the cuda and tensorrt providers.");
    public static final ConfigKey ENGINE_INTRA_THREADS = new ConfigKey("generation.engine.intra.op.threads", "0",
            "ONNX Runtime threads inside one operator; 0 is ONNX Runtime's default (one per core).");
    public static final ConfigKey ENGINE_INTER_THREADS = new ConfigKey("generation.engine.inter.op.threads", "0",
            "ONNX Runtime threads across operators; 0 is ONNX Runtime's default.");
    public static final ConfigKey ENGINE_SPIN_WAIT = new ConfigKey("generation.engine.spin.wait", "false",
            "Whether ONNX Runtime's idle threads spin-wait between operators (lower latency for a session "
                    + "that has the cores to itself) or sleep (leaves the cores to the other stages and sessions of "
                    + "the process; faster on a small machine running the whole pipeline).");
    public static final ConfigKey TRT_CACHE_DIR = new ConfigKey("generation.engine.trt.cache.dir", "",
            "Where the tensorrt provider keeps built engines (ONNX Runtime names them by graph and shape profile, "
                    + "so the stages may share one folder), so that a restart does not rebuild them; empty is "
                    + "ONNX Runtime's default.");
    public static final ConfigKey TRT_MIN_SHAPES = new ConfigKey("generation.engine.trt.profile.min.shapes", "",
            "TensorRT shape profile (trt_profile_min_shapes) for the text encoders', UNet's and VAE's batch axes.");
    public static final ConfigKey TRT_OPT_SHAPES = new ConfigKey("generation.engine.trt.profile.opt.shapes", "",
            "TensorRT shape profile (trt_profile_opt_shapes).");
    public static final ConfigKey TRT_MAX_SHAPES = new ConfigKey("generation.engine.trt.profile.max.shapes", "",
            "TensorRT shape profile (trt_profile_max_shapes).");
    public static final ConfigKey STEPS = new ConfigKey("generation.steps", "0",
            "Euler steps for a request that does not say; 0 means the generator's manifest default.");
    public static final ConfigKey GUIDANCE = new ConfigKey("generation.guidance", "",
            "Classifier-free guidance scale for a request that does not say; empty means the manifest default.");
    public static final ConfigKey NEGATIVE_PROMPT = new ConfigKey("generation.negative.prompt", "",
            "Negative prompt for a request without one (Mini-Gemini passes a fixed one to SDXL); empty means the "
                    + "manifest default, which for mgm-gen-tiny is the unconditional prompt.");
    public static final ConfigKey IMAGES_DIR = new ConfigKey("generation.images.dir", "data/generated-images",
            "Folder the PNGs are written to, under content-addressed names (sha256 of the file); a replayed batch "
                    + "writes the same files.");

    public static final List<ConfigKey> KEYS = List.of(MODEL_DIR, ENGINE_PROVIDER, ENGINE_DEVICE, ENGINE_INTRA_THREADS,
            ENGINE_INTER_THREADS, ENGINE_SPIN_WAIT, TRT_CACHE_DIR, TRT_MIN_SHAPES, TRT_OPT_SHAPES, TRT_MAX_SHAPES, STEPS,
            GUIDANCE, NEGATIVE_PROMPT, IMAGES_DIR);

    public GenerationConfig(Map<String, String> config) {
        super(KEYS, config);
        engine();
        if (steps() < 0) {
            throw new IllegalArgumentException(STEPS.name() + " must be >= 0, was " + steps());
        }
        guidance();
    }

    public Path modelDir() {
        return Path.of(text(MODEL_DIR));
    }

    public EngineOptions engine() {
        return EngineOptions.fromSettings(text(ENGINE_PROVIDER), (int) number(ENGINE_DEVICE),
                (int) number(ENGINE_INTER_THREADS), (int) number(ENGINE_INTRA_THREADS), text(TRT_CACHE_DIR),
                text(TRT_MIN_SHAPES), text(TRT_OPT_SHAPES), text(TRT_MAX_SHAPES), flag(ENGINE_SPIN_WAIT));
    }

    /** 0 when the manifest's default applies. */
    public int steps() {
        return (int) number(STEPS);
    }

    /** NaN when the manifest's default applies. */
    public double guidance() {
        String g = text(GUIDANCE);
        if (g.isEmpty()) {
            return Double.NaN;
        }
        try {
            return Double.parseDouble(g);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(GUIDANCE.name() + " must be a number, was '" + g + "'", e);
        }
    }

    /** Null when the manifest's default applies. */
    public String negativePrompt() {
        String n = raw(NEGATIVE_PROMPT);
        return n == null || n.isEmpty() ? null : n;
    }

    public Path imagesDir() {
        return Path.of(text(IMAGES_DIR));
    }
}
