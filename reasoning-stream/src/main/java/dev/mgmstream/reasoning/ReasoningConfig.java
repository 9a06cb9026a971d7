package dev.mgmstream.reasoning;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.KeyedConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The reasoning stage's own configuration keys (the stage runtime's, the topic catalogue's and the
 * registry client's come on top), each documented in docs/configuration.md, and typed views of them.
 */
public final class ReasoningConfig extends KeyedConfig {

    public static final ConfigKey MODEL_DIRS = new ConfigKey("reasoning.model.dirs", "models/mgm-tiny",
            "Folders of the exported models this stage serves, comma-separated. A VisualTokens record names its "
                    + "model by the model_id of its model.json; records for any other model are rejected.");
    public static final ConfigKey ENGINE_PROVIDER = new ConfigKey("reasoning.engine.provider", "cpu",
            "ONNX Runtime execution provider for the language model: cpu, cuda or tensorrt (as for the encoders).");
    public static final ConfigKey ENGINE_DEVICE = new ConfigKey("reasoning.engine.device.id", "0",
            "GPU ordinal for the cuda and tensorrt providers.");
    public static final ConfigKey ENGINE_INTRA_THREADS = new ConfigKey("reasoning.engine.intra.op.threads", "0",
            "ONNX Runtime threads inside one operator; 0 is ONNX Runtime's default (one per core).");
    public static final ConfigKey ENGINE_INTER_THREADS = new ConfigKey("reasoning.engine.inter.op.threads", "0",
            "ONNX Runtime threads across operators; 0 is ONNX Runtime's default.");
    public static final ConfigKey ENGINE_SPIN_WAIT = new ConfigKey("reasoning.engine.spin.wait", "false",
            "Whether ONNX Runtime's idle threads spin-wait between operators (lower latency for a session "
                    + "that has the cores to itself) or sleep (leaves the cores to the other stages and sessions of "
                    + "the process; faster on a small machine running the whole pipeline).");
    public static final ConfigKey ENGINE_IO_BINDING = new ConfigKey("reasoning.engine.io.binding", "false",
            "Keep the decoder's KV cache in the provider's memory between steps (ONNX Runtime's I/O binding) instead "
                    + "of handing it to Java and back every step: on cuda and tensorrt the cache then stays on the "
                    + "GPU. Needs Java 22 or newer (JAVA_HOME) and the model-runtime-bound module in lib/, which a "
                    + "build with a JDK 22+ includes; on cpu it runs the same path in host memory.");
    public static final ConfigKey TRT_CACHE_DIR = new ConfigKey("reasoning.engine.trt.cache.dir", "",
            "Where the tensorrt provider keeps built engines, so that a restart does not rebuild them; empty is "
                    + "ONNX Runtime's default.");
    public static final ConfigKey TRT_MIN_SHAPES = new ConfigKey("reasoning.engine.trt.profile.min.shapes", "",
            "TensorRT shape profile (trt_profile_min_shapes) for the decoder's dynamic batch and length axes.");
    public static final ConfigKey TRT_OPT_SHAPES = new ConfigKey("reasoning.engine.trt.profile.opt.shapes", "",
            "TensorRT shape profile (trt_profile_opt_shapes).");
    public static final ConfigKey TRT_MAX_SHAPES = new ConfigKey("reasoning.engine.trt.profile.max.shapes", "",
            "TensorRT shape profile (trt_profile_max_shapes).");
    public static final ConfigKey SLOTS = new ConfigKey("reasoning.lm.slots", "32",
            "Sequences decoded together at most (rows of the KV cache). Tasks beyond it wait in the generator's "
                    + "queue and take slots as earlier answers finish.");
    public static final ConfigKey BATCHING = new ConfigKey("reasoning.lm.batching", "continuous",
            "continuous: finished sequences free their slots and waiting ones are prefilled into them between "
                    + "decode steps; static: a new group starts only when the whole previous group has finished "
                    + "(for comparison).");
    public static final ConfigKey ADMIT_MIN_FREE = new ConfigKey("reasoning.lm.admit.min.free", "0",
            "Continuous batching admits waiting sequences once this many slots are free (or the queue is "
                    + "shorter); each admission costs a prefill and a re-pack of the KV cache. 0 means a quarter of "
                    + "reasoning.lm.slots.");
    public static final ConfigKey WORKERS = new ConfigKey("reasoning.lm.workers", "1",
            "Generators that answer one micro-batch side by side, each on its own thread with its share of the "
                    + "tasks and reasoning.lm.slots rows of its own. On a CPU with a small model, two generators with "
                    + "reasoning.engine.intra.op.threads=1 each use two cores better than one generator with two "
                    + "threads inside each operator.");
    public static final ConfigKey MAX_NEW_TOKENS = new ConfigKey("reasoning.max.new.tokens", "0",
            "Tokens an answer may have when its task does not say; 0 means the model's generation_defaults.");
    public static final ConfigKey TOP_K = new ConfigKey("reasoning.sampling.top.k", "0",
            "Top-k filter for sampled answers (tasks with a temperature above 0); 0 keeps every token.");
    public static final ConfigKey GENERATE_OUTPUT = new ConfigKey("reasoning.generate.output", "request",
            "What a generate task whose answer holds a well-formed <h>...</h> prompt produces. request: a "
                    + "GenerationRequest only, and the generation stage writes the task's one Answer; answer: an "
                    + "Answer with generation_prompt set and no request (deployments without a generation stage); "
                    + "both. A generate answer without a well-formed prompt always gets an Answer with status FAILED.");
    public static final ConfigKey CLAIM_CHECK_ROOTS = new ConfigKey("reasoning.claim.check.roots", "data/visual-tokens",
            "Where claim-checked visual tokens may be read, comma-separated: folders (file: URIs under them) and "
                    + "s3://bucket/prefix (the encoders' encoders.tokens.store.uri), read with the reasoning.s3.* "
                    + "client settings.");
    public static final ConfigKey S3_ENDPOINT = new ConfigKey("reasoning.s3.endpoint", "",
            "Endpoint of the S3-compatible store holding s3:// claim checks (MinIO, Ceph...); empty means AWS S3.");
    public static final ConfigKey S3_REGION = new ConfigKey("reasoning.s3.region", "us-east-1", "S3 region.");
    public static final ConfigKey S3_PATH_STYLE = new ConfigKey("reasoning.s3.path.style", "false",
            "Path-style addressing (endpoint/bucket/key), which most self-hosted S3-compatible stores need.");
    public static final ConfigKey S3_ACCESS_KEY = new ConfigKey("reasoning.s3.access.key", "",
            "S3 access key; empty uses AWS's default credential chain (environment, profile, instance role).");
    public static final ConfigKey S3_SECRET_KEY = new ConfigKey("reasoning.s3.secret.key", "",
            "S3 secret key, with reasoning.s3.access.key.");
    public static final ConfigKey S3_TIMEOUT = new ConfigKey("reasoning.s3.timeout.ms", "30000",
            "Connect and socket timeout of S3 requests.");

    public static final List<ConfigKey> KEYS = List.of(MODEL_DIRS, ENGINE_PROVIDER, ENGINE_DEVICE,
            ENGINE_INTRA_THREADS, ENGINE_INTER_THREADS, ENGINE_SPIN_WAIT, ENGINE_IO_BINDING, TRT_CACHE_DIR,
            TRT_MIN_SHAPES, TRT_OPT_SHAPES, TRT_MAX_SHAPES,
            SLOTS, BATCHING, ADMIT_MIN_FREE, WORKERS, MAX_NEW_TOKENS, TOP_K,
            GENERATE_OUTPUT, CLAIM_CHECK_ROOTS, S3_ENDPOINT, S3_REGION, S3_PATH_STYLE, S3_ACCESS_KEY, S3_SECRET_KEY,
            S3_TIMEOUT);

    /** See {@link #GENERATE_OUTPUT}. */
    public enum GenerateOutput { REQUEST, ANSWER, BOTH }

    public ReasoningConfig(Map<String, String> config) {
        super(KEYS, config);
        // Fail at start, not at the first batch.
        engine();
        batching();
        generateOutput();
        workers();
        if (number(MAX_NEW_TOKENS) < 0 || number(TOP_K) < 0) {
            throw new IllegalArgumentException(MAX_NEW_TOKENS.name() + " and " + TOP_K.name() + " must be >= 0");
        }
    }

    public List<Path> modelDirs() {
        List<Path> dirs = list(MODEL_DIRS).stream().map(Path::of).toList();
        if (dirs.isEmpty()) {
            throw new IllegalArgumentException(MODEL_DIRS.name() + " names no model folder");
        }
        return dirs;
    }

    /** The same engine choices as the encoders', under this stage's own keys. */
    public EngineOptions engine() {
        return EngineOptions.fromSettings(text(ENGINE_PROVIDER), (int) number(ENGINE_DEVICE),
                (int) number(ENGINE_INTER_THREADS), (int) number(ENGINE_INTRA_THREADS), text(TRT_CACHE_DIR),
                text(TRT_MIN_SHAPES), text(TRT_OPT_SHAPES), text(TRT_MAX_SHAPES), flag(ENGINE_SPIN_WAIT))
                .withIoBinding(flag(ENGINE_IO_BINDING));
    }

    public BatchingOptions batching() {
        int slots = (int) number(SLOTS);
        if (slots < 1) {
            throw new IllegalArgumentException(SLOTS.name() + " must be >= 1, was " + slots);
        }
        int minFree = (int) number(ADMIT_MIN_FREE);
        if (minFree < 0) {
            throw new IllegalArgumentException(ADMIT_MIN_FREE.name() + " must be >= 0, was " + minFree);
        }
        String mode = text(BATCHING).toLowerCase(Locale.ROOT);
        return switch (mode) {
            case "continuous" -> new BatchingOptions(slots, BatchingOptions.Mode.CONTINUOUS,
                    minFree == 0 ? Math.max(1, slots / 4) : minFree);
            case "static" -> BatchingOptions.staticBatches(slots);
            default -> throw new IllegalArgumentException(BATCHING.name() + " must be continuous or static, was '"
                    + text(BATCHING) + "'");
        };
    }

    public GenerateOutput generateOutput() {
        try {
            return GenerateOutput.valueOf(text(GENERATE_OUTPUT).toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(GENERATE_OUTPUT.name() + " must be request, answer or both, was '"
                    + text(GENERATE_OUTPUT) + "'", e);
        }
    }

    public int workers() {
        int w = (int) number(WORKERS);
        if (w < 1) {
            throw new IllegalArgumentException(WORKERS.name() + " must be >= 1, was " + w);
        }
        return w;
    }

    /** 0 when the model's own default applies. */
    public int maxNewTokens() {
        return (int) number(MAX_NEW_TOKENS);
    }

    public int topK() {
        return (int) number(TOP_K);
    }

    /** The folders among the claim-check roots. */
    public List<Path> claimCheckRoots() {
        return list(CLAIM_CHECK_ROOTS).stream().filter(r -> !r.startsWith("s3://"))
                .map(r -> r.startsWith("file:") ? Path.of(java.net.URI.create(r)) : Path.of(r)).toList();
    }

    /** The s3://bucket/prefix entries among the claim-check roots. */
    public List<java.net.URI> claimCheckS3Roots() {
        return list(CLAIM_CHECK_ROOTS).stream().filter(r -> r.startsWith("s3://")).map(java.net.URI::create).toList();
    }

    public dev.mgmstream.store.S3Clients.Settings s3() {
        return new dev.mgmstream.store.S3Clients.Settings(text(S3_ENDPOINT), text(S3_REGION), flag(S3_PATH_STYLE),
                text(S3_ACCESS_KEY), text(S3_SECRET_KEY), java.time.Duration.ofMillis(number(S3_TIMEOUT)));
    }
}
