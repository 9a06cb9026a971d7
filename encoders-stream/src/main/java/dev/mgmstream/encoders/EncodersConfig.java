package dev.mgmstream.encoders;

import dev.mgmstream.encoders.source.HttpSource;
import dev.mgmstream.store.S3Clients;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.vision.DecodeLimits;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.KeyedConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The encoders stage's own configuration keys (the stage runtime's, the topic catalogue's and the registry
 * client's come on top), each documented in docs/configuration.md, and typed views of them.
 */
public final class EncodersConfig extends KeyedConfig {

    public static final ConfigKey MODEL_DIR = new ConfigKey("encoders.model.dir", "models/mgm-tiny",
            "Folder of the exported model (model.json and the ONNX graphs it names).");
    public static final ConfigKey ENGINE_PROVIDER = new ConfigKey("encoders.engine.provider", "cpu",
            "ONNX Runtime execution provider: cpu, cuda, or tensorrt (fp16, engine cache; CUDA takes what TensorRT "
                    + "cannot). GPU providers need the onnxruntime_gpu jar in place of the CPU one.");
    public static final ConfigKey ENGINE_DEVICE = new ConfigKey("encoders.engine.device.id", "0",
            "GPU ordinal for cuda and tensorrt.");
    public static final ConfigKey ENGINE_INTRA_THREADS = new ConfigKey("encoders.engine.intra.op.threads", "0",
            "Threads ONNX Runtime uses inside one operator; 0 leaves ONNX Runtime's default (all cores).");
    public static final ConfigKey ENGINE_INTER_THREADS = new ConfigKey("encoders.engine.inter.op.threads", "0",
            "Threads across independent operators; 0 leaves ONNX Runtime's default.");
    public static final ConfigKey ENGINE_SPIN_WAIT = new ConfigKey("encoders.engine.spin.wait", "false",
            "Whether ONNX Runtime's idle threads spin-wait between operators (lower latency for a session "
                    + "that has the cores to itself) or sleep (leaves the cores to the other stages and sessions of "
                    + "the process; faster on a small machine running the whole pipeline).");
    public static final ConfigKey TRT_CACHE_DIR = new ConfigKey("encoders.engine.trt.cache.dir", "",
            "Folder where TensorRT keeps built engines, so a restart does not rebuild them.");
    public static final ConfigKey TRT_MIN_SHAPES = new ConfigKey("encoders.engine.trt.profile.min.shapes", "",
            "TensorRT shape profile, smallest shapes, e.g. pixel_values:1x3x96x96,pixel_values_hr:1x3x384x384.");
    public static final ConfigKey TRT_OPT_SHAPES = new ConfigKey("encoders.engine.trt.profile.opt.shapes", "",
            "TensorRT shape profile, the shapes to optimise for (the usual batch size).");
    public static final ConfigKey TRT_MAX_SHAPES = new ConfigKey("encoders.engine.trt.profile.max.shapes", "",
            "TensorRT shape profile, largest shapes (stage.batch.max.size images).");
    public static final ConfigKey DECODE_THREADS = new ConfigKey("encoders.decode.threads", "2",
            "Threads that fetch, decode and preprocess the images of a batch. Each may hold one image at the pixel "
                    + "budget, about 12 bytes a pixel while decoding (the decoded raster, then packed RGB): with the "
                    + "default budget, allow some 500 MB of heap per thread.");
    public static final ConfigKey MAX_BYTES = new ConfigKey("encoders.image.max.bytes", "33554432",
            "Largest image file accepted, inline or fetched; larger ones are rejected, fetched ones before the "
                    + "transfer when the size is announced.");
    public static final ConfigKey MAX_PIXELS = new ConfigKey("encoders.image.max.pixels", "40000000",
            "Pixel budget: images (and GIF logical screens) declaring more width x height are rejected before "
                    + "decoding, which bounds the heap a decompression bomb can take.");
    public static final ConfigKey TOKENS_DTYPE = new ConfigKey("encoders.tokens.dtype", "",
            "Element type of the visual tokens written: float16, bfloat16 or float32; empty takes the manifest's "
                    + "visual_tokens_dtype (float16 by default).");
    public static final ConfigKey INLINE_MAX_BYTES = new ConfigKey("encoders.tokens.inline.max.bytes", "1048576",
            "Visual tokens up to this many bytes travel inside the record; larger ones go to the object store and "
                    + "the record carries their URI (claim check). Must leave room under the max.message.bytes of "
                    + "the visual-tokens and visual-token-cache topics.");
    public static final ConfigKey STORE_URI = new ConfigKey("encoders.tokens.store.uri", "data/visual-tokens",
            "Claim-check object store: a folder (path or file: URI) or s3://bucket/prefix (through the encoders.s3.* "
                    + "client settings). Objects are content-addressed: tokens/<sha256>.<dtype>.");
    public static final ConfigKey FILE_ROOTS = new ConfigKey("encoders.source.file.roots", "",
            "Comma-separated folders that file: image URIs may point into (links resolved, no escape); empty turns "
                    + "file: URIs off.");
    public static final ConfigKey S3_ENABLED = new ConfigKey("encoders.source.s3.enabled", "true",
            "Accept s3:// image URIs, fetched with the encoders.s3.* client settings.");
    public static final ConfigKey S3_BUCKETS = new ConfigKey("encoders.source.s3.buckets", "",
            "Comma-separated buckets that s3:// image URIs may name; empty allows any bucket the credentials read.");
    public static final ConfigKey HTTP_ENABLED = new ConfigKey("encoders.source.http.enabled", "false",
            "Accept http:// and https:// image URIs (then only for encoders.source.http.allowed.hosts).");
    public static final ConfigKey HTTP_HOSTS = new ConfigKey("encoders.source.http.allowed.hosts", "",
            "Comma-separated host names image URLs may name; *.example.com allows its subdomains. Empty allows none.");
    public static final ConfigKey HTTP_ALLOW_PRIVATE = new ConfigKey("encoders.source.http.allow.private", "false",
            "Allow image URLs whose host resolves to a loopback, private, link-local, unique-local or CGNAT "
                    + "address (off: a task cannot make the stage reach into its own network).");
    public static final ConfigKey HTTP_CONNECT_TIMEOUT = new ConfigKey("encoders.source.http.connect.timeout.ms",
            "5000", "Connect timeout of an image download.");
    public static final ConfigKey HTTP_TIMEOUT = new ConfigKey("encoders.source.http.timeout.ms", "20000",
            "Timeout of an image download until its response headers arrive; the body is then capped by "
                    + "encoders.image.max.bytes.");
    public static final ConfigKey S3_ENDPOINT = new ConfigKey("encoders.s3.endpoint", "",
            "Endpoint of an S3-compatible store (MinIO, Ceph, S3Mock...); empty means AWS S3.");
    public static final ConfigKey S3_REGION = new ConfigKey("encoders.s3.region", "us-east-1", "S3 region.");
    public static final ConfigKey S3_PATH_STYLE = new ConfigKey("encoders.s3.path.style", "false",
            "Path-style addressing (endpoint/bucket/key), which most self-hosted S3-compatible stores need.");
    public static final ConfigKey S3_ACCESS_KEY = new ConfigKey("encoders.s3.access.key", "",
            "S3 access key; empty uses AWS's default credential chain (environment, profile, instance role).");
    public static final ConfigKey S3_SECRET_KEY = new ConfigKey("encoders.s3.secret.key", "",
            "S3 secret key, with encoders.s3.access.key.");
    public static final ConfigKey S3_TIMEOUT = new ConfigKey("encoders.s3.timeout.ms", "30000",
            "Connect and socket timeout of S3 requests.");
    public static final ConfigKey CACHE_ENABLED = new ConfigKey("encoders.cache.enabled", "true",
            "Reuse visual tokens of images already encoded (same SHA-256, same model) from the visual-token-cache "
                    + "topic instead of encoding them again.");
    public static final ConfigKey CACHE_STATE_DIR = new ConfigKey("encoders.cache.state.dir", "data/visual-token-cache",
            "Folder of the cache's local store (RocksDB, on disk), one subfolder per instance id (stage.instance.id): "
                    + "a restart on the same folder reads only what the topic gained since, not the whole topic.");
    public static final ConfigKey CACHE_MEMORY_BYTES = new ConfigKey("encoders.cache.memory.bytes",
            Long.toString(64L << 20),
            "Native memory (outside the heap) of the cache's RocksDB store: block cache, index and filter blocks, "
                    + "and write buffers charged to it. The cache holds any number of images on disk within it.");
    public static final ConfigKey CACHE_STARTUP_WAIT = new ConfigKey("encoders.cache.startup.wait.ms", "30000",
            "How long the stage's first batch waits for the cache's store to be restored (what the topic gained "
                    + "since the last run read into it) before looking images up.");

    public static final List<ConfigKey> KEYS = List.of(MODEL_DIR, ENGINE_PROVIDER, ENGINE_DEVICE, ENGINE_INTRA_THREADS,
            ENGINE_INTER_THREADS, ENGINE_SPIN_WAIT, TRT_CACHE_DIR, TRT_MIN_SHAPES, TRT_OPT_SHAPES, TRT_MAX_SHAPES,
            DECODE_THREADS,
            MAX_BYTES, MAX_PIXELS, TOKENS_DTYPE, INLINE_MAX_BYTES, STORE_URI, FILE_ROOTS, S3_ENABLED, S3_BUCKETS,
            HTTP_ENABLED, HTTP_HOSTS, HTTP_ALLOW_PRIVATE, HTTP_CONNECT_TIMEOUT, HTTP_TIMEOUT, S3_ENDPOINT, S3_REGION,
            S3_PATH_STYLE, S3_ACCESS_KEY, S3_SECRET_KEY, S3_TIMEOUT, CACHE_ENABLED, CACHE_STATE_DIR,
            CACHE_MEMORY_BYTES, CACHE_STARTUP_WAIT);

    public EncodersConfig(Map<String, String> config) {
        super(KEYS, config);
    }

    public Path modelDir() {
        return Path.of(text(MODEL_DIR));
    }

    public DecodeLimits limits() {
        return new DecodeLimits(number(MAX_BYTES), number(MAX_PIXELS));
    }

    public EngineOptions engine() {
        return EngineOptions.fromSettings(text(ENGINE_PROVIDER), (int) number(ENGINE_DEVICE),
                (int) number(ENGINE_INTER_THREADS), (int) number(ENGINE_INTRA_THREADS), text(TRT_CACHE_DIR),
                text(TRT_MIN_SHAPES), text(TRT_OPT_SHAPES), text(TRT_MAX_SHAPES), flag(ENGINE_SPIN_WAIT));
    }

    public HttpSource.Settings http() {
        return new HttpSource.Settings(flag(HTTP_ENABLED), list(HTTP_HOSTS), flag(HTTP_ALLOW_PRIVATE),
                millis(HTTP_CONNECT_TIMEOUT), millis(HTTP_TIMEOUT));
    }

    public S3Clients.Settings s3() {
        return new S3Clients.Settings(text(S3_ENDPOINT), text(S3_REGION), flag(S3_PATH_STYLE), text(S3_ACCESS_KEY),
                text(S3_SECRET_KEY), millis(S3_TIMEOUT));
    }
}
