package dev.mgmstream.encoders;

import dev.mgmstream.encoders.cache.VisualTokenCache;
import dev.mgmstream.encoders.source.FileSource;
import dev.mgmstream.encoders.source.HttpSource;
import dev.mgmstream.encoders.source.ImageLoader;
import dev.mgmstream.encoders.source.ImageSource;
import dev.mgmstream.store.S3Clients;
import dev.mgmstream.encoders.source.S3Source;
import dev.mgmstream.store.FolderObjectStore;
import dev.mgmstream.store.ObjectStore;
import dev.mgmstream.store.S3ObjectStore;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.vision.ImageDecoder;
import dev.mgmstream.model.vision.VisionEncoder;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.pipeline.stage.DeadLetterEncoder;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageDefinition;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.pipeline.stage.StageRunner;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerde;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The encoders stage, wired: {@code image-tasks} in; {@code visual-tokens} (and {@code visual-token-cache})
 * out; rejected tasks to {@code dlq.encoders} with a rejected {@code Answer} on {@code answers}.
 *
 * <p>What the CLI calls:
 * <pre>{@code
 * Map<String, String> config = LayeredConfig.resolve(EncodersStage.configKeys(), flags);
 * try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
 *      EncodersStage encoders = EncodersStage.open(config, registry, meters)) {
 *     Stage<String, ImageTask> stage = encoders.start(EncodersStage.settings(config), meters);
 *     ...
 * }
 * }</pre>
 * or, for a process that is only this stage, {@link #main(String[])} (flags {@code --key=value}).
 *
 * <p>Opening loads the model and checks the configuration (dtype, topic size limits, sources, store);
 * starting opens the visual-token cache's store and brings it up to date with the cache topic while the
 * stage joins its group, and the first batch waits for it, so that a restarted instance does not encode
 * again what is already known.
 */
public final class EncodersStage implements AutoCloseable {

    public static final String NAME = "encoders";

    /** Room a VisualTokens record needs besides its inline payload: ids, shape, and the tasks with their prompts. */
    static final int RECORD_OVERHEAD_BYTES = 256 * 1024;

    private static final Logger log = LoggerFactory.getLogger(EncodersStage.class);

    private final EncodersConfig config;
    private final VisionEncoder encoder;
    private final ObjectStore store;
    private final S3Client s3;
    private final ExecutorService pool;
    private final VisualTokenCache cache;
    private final EncoderMetrics metrics;
    private final StageDefinition<String, ImageTask> definition;
    private final Duration cacheStartupWait;

    private EncodersStage(EncodersConfig config, VisionEncoder encoder, ObjectStore store, S3Client s3,
                          ExecutorService pool, VisualTokenCache cache, EncoderMetrics metrics,
                          StageDefinition<String, ImageTask> definition) {
        this.config = config;
        this.encoder = encoder;
        this.store = store;
        this.s3 = s3;
        this.pool = pool;
        this.cache = cache;
        this.metrics = metrics;
        this.definition = definition;
        this.cacheStartupWait = config.millis(EncodersConfig.CACHE_STARTUP_WAIT);
    }

    /** Every documented key this stage reads besides the topic catalogue's and the registry client's. */
    public static List<ConfigKey> configKeys() {
        List<ConfigKey> keys = new ArrayList<>(StageSettings.KEYS);
        keys.addAll(EncodersConfig.KEYS);
        return List.copyOf(keys);
    }

    /**
     * The stage runtime's settings for this stage, with the producer's {@code max.request.size} raised to the
     * largest {@code max.message.bytes} of the topics it writes (unless {@code kafka.producer.max.request.size}
     * is set): the client's 1 MiB default would refuse a dead letter that carries a large inline image, and a
     * refused send fails the whole transaction. {@link #start} and {@link #runUntilStopped} apply this to
     * whatever settings they are given, so callers may also pass {@code StageSettings.from(NAME, config)}.
     */
    public static StageSettings settings(Map<String, String> config) {
        return fitted(StageSettings.from(NAME, config));
    }

    static StageSettings fitted(StageSettings settings) {
        Map<String, String> c = new HashMap<>(settings.config());
        if (c.containsKey("kafka.producer.max.request.size") || c.containsKey("kafka.max.request.size")) {
            return settings;
        }
        TopicCatalogue topics = TopicCatalogue.fromConfig(c);
        long largest = 0;
        for (TopicRole role : List.of(TopicRole.VISUAL_TOKENS, TopicRole.VISUAL_TOKEN_CACHE, TopicRole.ANSWERS,
                TopicRole.DLQ_ENCODERS)) {
            largest = Math.max(largest, Long.parseLong(topics.spec(role).config("max.message.bytes")));
        }
        c.put("kafka.producer.max.request.size", Long.toString(largest));
        c.put(StageSettings.GROUP_ID.name(), settings.groupId());
        return StageSettings.from(NAME, c);
    }

    /**
     * Loads the model and builds the stage from configuration.
     *
     * @param registry the schema registry client, shared and not closed here
     * @param meters   where the encoders' own meters go (give the stage runtime the same registry)
     */
    public static EncodersStage open(Map<String, String> configMap, SchemaRegistryClient registry, MeterRegistry meters) {
        EncodersConfig config = new EncodersConfig(configMap);
        TopicCatalogue topics = TopicCatalogue.fromConfig(configMap);
        long inlineMax = config.number(EncodersConfig.INLINE_MAX_BYTES);
        checkFits(topics.spec(TopicRole.VISUAL_TOKENS), inlineMax);
        checkFits(topics.spec(TopicRole.VISUAL_TOKEN_CACHE), inlineMax);

        List<AutoCloseable> opened = new ArrayList<>();
        try {
            S3Client s3 = needsS3(config) ? S3Clients.create(config.s3()) : null;
            if (s3 != null) {
                opened.add(s3);
            }
            ObjectStore store = openStore(config.text(EncodersConfig.STORE_URI), s3);
            opened.add(store);
            Map<String, ImageSource> sources = new HashMap<>();
            sources.put("file", new FileSource(config.list(EncodersConfig.FILE_ROOTS).stream().map(Path::of).toList()));
            if (config.flag(EncodersConfig.S3_ENABLED)) {
                sources.put("s3", new S3Source(s3, config.list(EncodersConfig.S3_BUCKETS)));
            }
            HttpSource http = new HttpSource(config.http());
            sources.put("http", http);
            sources.put("https", http);
            ImageDecoder decoder = new ImageDecoder(config.limits());
            ImageLoader loader = new ImageLoader(sources, config.limits().maxBytes());

            ModelManifest manifest = ModelManifest.load(config.modelDir());
            VisionEncoder encoder = VisionEncoder.load(manifest, config.engine());
            opened.add(encoder);
            try {
                encoder.warmUp();
                warmUpDecoding(decoder, encoder);
            } catch (ai.djl.translate.TranslateException e) {
                throw new IllegalStateException("the vision encoders of " + config.modelDir() + " cannot run: "
                        + e.getMessage(), e);
            }
            String dtype = config.text(EncodersConfig.TOKENS_DTYPE);
            if (dtype.isEmpty()) {
                dtype = manifest.vision().visualTokensDtype() == null ? "float16" : manifest.vision().visualTokensDtype();
            }
            TokenWriter writer = new TokenWriter(dtype, inlineMax, store);

            Map<String, Object> serdeConfig = new HashMap<>(configMap);
            AvroSerde<ImageTask> tasks = AvroSerdes.valueSerde(topics.spec(TopicRole.IMAGE_TASKS), ImageTask.class,
                    registry, serdeConfig);
            AvroSerde<VisualTokens> tokens = AvroSerdes.valueSerde(topics.spec(TopicRole.VISUAL_TOKENS),
                    VisualTokens.class, registry, serdeConfig);
            AvroSerde<VisualTokens> cached = AvroSerdes.valueSerde(topics.spec(TopicRole.VISUAL_TOKEN_CACHE),
                    VisualTokens.class, registry, serdeConfig);
            AvroSerde<Answer> answers = AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class, registry,
                    serdeConfig);
            AvroSerde<Rejection> rejections = AvroSerdes.valueSerde(topics.spec(TopicRole.DLQ_ENCODERS),
                    Rejection.class, registry, serdeConfig);

            VisualTokenCache cache = config.flag(EncodersConfig.CACHE_ENABLED)
                    ? new VisualTokenCache(topics.name(TopicRole.VISUAL_TOKEN_CACHE), cached.deserializer(),
                    cacheStateDir(config, configMap), config.number(EncodersConfig.CACHE_MEMORY_BYTES))
                    : null;
            ExecutorService pool = decodePool((int) config.number(EncodersConfig.DECODE_THREADS));
            EncoderMetrics metrics = new EncoderMetrics(meters);
            StringSerializer keys = new StringSerializer();
            EncodeBatch batch = new EncodeBatch(loader, decoder, encoder, cache, writer,
                    new OutputTopic<>(topics.name(TopicRole.VISUAL_TOKENS), keys, tokens.serializer()),
                    new OutputTopic<>(topics.name(TopicRole.VISUAL_TOKEN_CACHE), keys, cached.serializer()),
                    metrics, pool);
            StageDefinition<String, ImageTask> definition = StageDefinition.<String, ImageTask>builder(NAME)
                    .setInput(List.of(topics.name(TopicRole.IMAGE_TASKS)), new StringDeserializer(), tasks.deserializer())
                    .setBatchFunction(batch)
                    .setDeadLetterTopic(topics.name(TopicRole.DLQ_ENCODERS))
                    .optDeadLetterEncoder(DeadLetterEncoder.avro(rejections.serializer(), true))
                    .optRejectionHook(Rejections.answers(new OutputTopic<>(topics.name(TopicRole.ANSWERS), keys,
                            answers.serializer()), NAME))
                    .build();
            log.info("Encoders stage ready: model {} ({} tokens of {}), {} on {}, tokens inline up to {} bytes, store {}",
                    manifest.modelId(), manifest.vision().imageTokenCount(), dtype, config.engine().provider(),
                    config.modelDir(), inlineMax, config.text(EncodersConfig.STORE_URI));
            return new EncodersStage(config, encoder, store, s3, pool, cache, metrics, definition);
        } catch (RuntimeException e) {
            for (AutoCloseable c : opened) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** The topic must take a record with the largest inline payload and its tasks. */
    private static void checkFits(TopicSpec topic, long inlineMax) {
        long limit = Long.parseLong(topic.config("max.message.bytes"));
        if (inlineMax + RECORD_OVERHEAD_BYTES > limit) {
            throw new IllegalArgumentException(EncodersConfig.INLINE_MAX_BYTES.name() + " = " + inlineMax
                    + " does not fit topic " + topic.name() + " (max.message.bytes " + limit + ", and "
                    + RECORD_OVERHEAD_BYTES + " bytes are kept for the rest of the record): lower it, or raise "
                    + "topics." + topic.role().baseName() + ".max.message.bytes");
        }
    }

    private static boolean needsS3(EncodersConfig config) {
        return config.flag(EncodersConfig.S3_ENABLED) || config.text(EncodersConfig.STORE_URI).startsWith("s3://");
    }

    private static ObjectStore openStore(String uri, S3Client s3) {
        try {
            if (uri.startsWith("s3://")) {
                URI u = URI.create(uri);
                return new S3ObjectStore(s3, u.getHost(), u.getPath().replaceFirst("^/", ""), false);
            }
            return new FolderObjectStore(uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the visual-token store " + uri, e);
        }
    }

    private static ExecutorService decodePool(int threads) {
        AtomicInteger n = new AtomicInteger();
        return Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "encoders-decode-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public StageDefinition<String, ImageTask> definition() {
        return definition;
    }

    public EncoderMetrics metrics() {
        return metrics;
    }

    public ObjectStore store() {
        return store;
    }

    public String modelId() {
        return encoder.manifest().modelId();
    }

    /**
     * Starts the cache's store and the stage on its own thread; the first batch waits (up to
     * encoders.cache.startup.wait.ms) for the store to be restored.
     */
    public Stage<String, ImageTask> start(StageSettings settings, MeterRegistry registry) {
        return start(settings, registry, StageListener.NONE);
    }

    public Stage<String, ImageTask> start(StageSettings settings, MeterRegistry registry, StageListener listener) {
        startCache(settings);
        return Stage.start(new Stage<>(definition, fitted(settings), registry, listener));
    }

    /** Runs the stage on the calling thread until SIGTERM; returns the process exit code. */
    public int runUntilStopped(StageSettings settings, PrometheusMeterRegistry registry) {
        startCache(settings);
        return StageRunner.runUntilStopped(definition, fitted(settings), registry);
    }

    private void startCache(StageSettings settings) {
        if (cache == null) {
            return;
        }
        Map<String, Object> client = KafkaClientConfigs.streams(settings.bootstrapServers(), settings.config());
        client.put("client.id", settings.transactionalId() + "-cache");
        cache.start(client, cacheStartupWait);
    }

    /** The cache's state folder of this instance: two instances on one host must not share a store. */
    static Path cacheStateDir(EncodersConfig config, Map<String, String> configMap) {
        String instance = configMap.getOrDefault(StageSettings.INSTANCE_ID.name(), StageSettings.INSTANCE_ID.defaultValue());
        return Path.of(config.text(EncodersConfig.CACHE_STATE_DIR)).resolve(instance.trim());
    }

    @Override
    public void close() {
        if (cache != null) {
            cache.close();
        }
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        encoder.close();
        store.close();
        if (s3 != null) {
            s3.close();
        }
    }

    /** The stage as a process of its own: configuration from defaults, file, {@code MGM_*} environment and flags. */
    public static void main(String[] args) {
        Map<String, String> config = LayeredConfig.resolve(configKeys(), LayeredConfig.parseFlags(args));
        StageSettings settings = settings(config);
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        int code;
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             EncodersStage stage = open(config, registry, meters)) {
            code = stage.runUntilStopped(settings, meters);
        }
        System.exit(code);
    }

    /**
     * Decodes and preprocesses one blank picture (not square, so padding and both resizes run): ImageIO finds
     * its readers on its first image, and the pixel loops run interpreted until the JIT has seen them, which
     * made the first batch's decoding several times slower than the next ones'.
     */
    private static void warmUpDecoding(ImageDecoder decoder, VisionEncoder encoder) {
        try {
            java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
            java.awt.image.BufferedImage blank =
                    new java.awt.image.BufferedImage(400, 300, java.awt.image.BufferedImage.TYPE_INT_RGB);
            javax.imageio.ImageIO.write(blank, "png", png);
            encoder.preprocessor().apply(decoder.decode(png.toByteArray()));
        } catch (java.io.IOException | RuntimeException | dev.mgmstream.model.vision.ImageRejectedException e) {
            log.debug("Decoder warm-up skipped: {}", e.toString());
        }
    }
}
