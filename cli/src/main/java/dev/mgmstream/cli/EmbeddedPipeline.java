package dev.mgmstream.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

import dev.mgmstream.encoders.EncodersStage;
import dev.mgmstream.ingest.IngestSettings;
import dev.mgmstream.lake.LakeSettings;
import dev.mgmstream.lake.LakeTable;
import dev.mgmstream.lake.SinkStage;
import dev.mgmstream.devkit.kafka.EmbeddedKafka;
import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.generation.GenerationStage;
import dev.mgmstream.reasoning.ReasoningStage;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.SubjectNames;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicSpec;
import dev.mgmstream.views.ViewsConfig;
import dev.mgmstream.views.ViewsStage;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Everything in one process: an in-process KRaft broker, the schema registry, the topics, the
 * encoders, reasoning, generation and sink stages with the bundled model, and the views with the results
 * browser ({@link #viewsUrl}). {@code mgm demo} and {@code mgm run --embedded} use it; tests too.
 *
 * <p>Settings that only make sense for one process on one machine are defaulted here (a caller's
 * configuration wins): the model from the repository, the claim-check store and file roots under the
 * work folder, and short lingers, since nothing else competes for the batch.
 */
final class EmbeddedPipeline implements AutoCloseable {

    private final EmbeddedKafka kafka;
    private final InProcessSchemaRegistry registry;
    private final SchemaRegistryClient client;
    /** The started stages' run loops; they stop together. */
    private final List<AutoCloseable> running = new ArrayList<>();
    /** The stages' models, closed once no run loop uses them. */
    private final List<AutoCloseable> models = new ArrayList<>();
    private final Map<String, String> config;
    private SinkStage sink;
    private ViewsStage views;

    private EmbeddedPipeline(EmbeddedKafka kafka, InProcessSchemaRegistry registry, SchemaRegistryClient client,
                             Map<String, String> config) {
        this.kafka = kafka;
        this.registry = registry;
        this.client = client;
        this.config = config;
    }

    /**
     * @param base      configuration from the user (file, environment, flags)
     * @param work      folder for the claim-check store
     * @param fileRoots folders whose image files the encoders may read by {@code file:} URI
     */
    static EmbeddedPipeline start(Map<String, String> base, Path work, List<Path> fileRoots, MeterRegistry meters) {
        Map<String, String> config = defaults(work, fileRoots);
        config.putAll(base);
        if (!base.containsKey(ViewsConfig.IMAGE_ROOTS.name())) {
            // the results browser shows the images the encoders may read, and the generated ones where they are written
            List<String> roots = new ArrayList<>(fileRoots.stream().map(Path::toString).toList());
            roots.add(config.get("generation.images.dir"));
            config.put(ViewsConfig.IMAGE_ROOTS.name(), String.join(",", roots));
        }
        LakeSettings lake = LakeSettings.from(config); // a bad setting fails here, before anything has started
        // The broker needs seconds to come up and the stages seconds to load their models: do both at once.
        CompletableFuture<EmbeddedKafka> starting = CompletableFuture.supplyAsync(
                () -> EmbeddedKafka.start(EmbeddedKafka.Options.defaults()), daemon("embedded-kafka-start"));
        // Opening the lake table needs no broker, and its first open loads Iceberg and Hadoop (seconds of
        // CPU): done now, it no longer competes with the stages once tasks flow.
        CompletableFuture<LakeTable> lakeOpening = CompletableFuture.supplyAsync(
                () -> LakeTable.open(lake), daemon("embedded-lake-open"));
        PendingRegistryClient client = new PendingRegistryClient();
        List<AutoCloseable> opened = new ArrayList<>();
        EmbeddedKafka kafka = null;
        InProcessSchemaRegistry registry = null;
        EmbeddedPipeline pipeline = null;
        try {
            Opened stages = openStages(config, client, meters, opened);
            kafka = join(starting);
            registry = InProcessSchemaRegistry.start(kafka.bootstrapServers(), 0);
            config.put("bootstrap.servers", kafka.bootstrapServers());
            config.put("schema.registry.url", registry.url());
            client.target(HttpSchemaRegistryClient.fromConfig(config));
            pipeline = new EmbeddedPipeline(kafka, registry, client, Map.copyOf(config));
            pipeline.models.addAll(opened);
            opened.clear();
            CompletableFuture<Void> registering = CompletableFuture.runAsync(() -> registerSchemas(config, client),
                    daemon("embedded-schema-registration"));
            provision(config);
            join(registering);
            pipeline.startStages(stages, join(lakeOpening), meters, base.containsKey(ViewsConfig.HTTP_PORT.name()));
            return pipeline;
        } catch (RuntimeException e) {
            if (pipeline != null) {
                pipeline.close();
            } else {
                closeQuietly(opened);
                client.close();
                if (registry != null) {
                    registry.close();
                }
                if (kafka != null) {
                    kafka.close();
                } else {
                    starting.whenComplete((started, failed) -> {
                        if (started != null) {
                            started.close();
                        }
                    });
                }
            }
            // The sink owns the table once started; before that (or if it never opened) it is closed here.
            if (pipeline == null || pipeline.sink == null) {
                lakeOpening.thenAccept(LakeTable::close);
            }
            throw e;
        }
    }

    /** Runs each task on a new daemon thread, so that a stuck start or stop cannot keep the JVM alive. */
    private static Executor daemon(String name) {
        return task -> {
            Thread t = new Thread(task, name);
            t.setDaemon(true);
            t.start();
        };
    }

    private static <T> T join(CompletableFuture<T> starting) {
        try {
            return starting.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    private static void closeQuietly(List<AutoCloseable> resources) {
        for (AutoCloseable c : resources) {
            try {
                c.close();
            } catch (Exception e) {
                System.err.println("mgm: while stopping: " + e);
            }
        }
    }

    /** The stages with their models loaded, not yet connected to the broker. */
    private record Opened(EncodersStage encoders, ReasoningStage reasoning, GenerationStage generation) {
    }

    private static Opened openStages(Map<String, String> config, SchemaRegistryClient client, MeterRegistry meters,
                                     List<AutoCloseable> opened) {
        EncodersStage encoders = EncodersStage.open(config, client, meters);
        opened.add(encoders);
        ReasoningStage reasoning = ReasoningStage.open(config, client, meters, encoders.store()::get);
        opened.add(reasoning);
        GenerationStage generation = null;
        if (GenerationStage.modelPresent(config)) {
            generation = GenerationStage.open(config, client, meters);
            opened.add(generation);
        }
        return new Opened(encoders, reasoning, generation);
    }

    static Map<String, String> defaults(Path work, List<Path> fileRoots) {
        Map<String, String> c = new HashMap<>();
        Path store = work.resolve("visual-tokens");
        try {
            Files.createDirectories(store);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create " + store, e);
        }
        c.put("encoders.model.dir", Home.model().toString());
        c.put("reasoning.model.dirs", Home.model().toString());
        c.put("generation.model.dir", Home.generator().toString());
        c.put("generation.images.dir", Path.of("generated-images").toAbsolutePath().toString());
        c.put("encoders.tokens.store.uri", store.toString());
        // The broker is new on every run: a cache store kept from an earlier run would name offsets of topics gone.
        c.put("encoders.cache.state.dir", work.resolve("visual-token-cache").toString());
        c.put("reasoning.claim.check.roots", store.toString());
        c.put("encoders.source.file.roots", String.join(",", fileRoots.stream().map(Path::toString).toList()));
        c.put("encoders.source.s3.enabled", "false");
        // The encoders in this process read the very files the tasks name (fileRoots), so local images go by
        // reference: inlined, every task copied its image through the broker, and the publisher hashed it once
        // more. Measured on 5,000 tasks over 1,250 images: 65 -> 53 s (docs/benchmarks.md).
        c.put(IngestSettings.INLINE_MAX_BYTES.name(), "0");
        c.put("stage.batch.linger.ms", "50");
        c.put("stage.static.membership", "false");
        c.put("sink.commit.interval.ms", "1000");
        // One views instance, reached by this machine only: no standbys to place, state thrown away with the run.
        c.put(ViewsConfig.ADVERTISED_HOST.name(), "localhost");
        c.put(ViewsConfig.STATE_DIR.name(), work.resolve("views-state").toString());
        c.put(ViewsConfig.STANDBY_REPLICAS.name(), "0");
        return c;
    }

    /**
     * Registers every topic's value schema through the stages' own client, beside topic creation. A stage
     * registers its schema on its first record otherwise, each a write to the registry's topic, one after
     * another in the first batches; the client caches the ids, so those records no longer wait.
     */
    static void registerSchemas(Map<String, String> config, SchemaRegistryClient client) {
        for (TopicSpec spec : TopicCatalogue.fromConfig(config).all()) {
            client.register(SubjectNames.forTopic(spec.name(), false),
                    org.apache.avro.specific.SpecificData.get().getSchema(spec.valueType()));
        }
    }

    /** Creates the topics and waits until each partition has a leader that takes writes. */
    static void provision(Map<String, String> config) {
        try (Admin admin = Admin.create(KafkaClientConfigs.of(config.get("bootstrap.servers"), config,
                KafkaClientConfigs.Kind.ADMIN))) {
            new TopicProvisioner(admin).ensure(TopicCatalogue.fromConfig(config).all());
        }
    }

    private void startStages(Opened opened, LakeTable table, MeterRegistry meters, boolean viewsPortChosen) {
        // first, so that the results browser is up before the first task is published
        views = startViews(config, client, viewsPortChosen);
        running.add(views);
        running.add(opened.encoders().start(StageSettings.from(EncodersStage.NAME, config), meters));
        running.add(opened.reasoning().start(StageSettings.from(ReasoningStage.NAME, config), meters));
        if (opened.generation() != null) {
            running.add(opened.generation().start(StageSettings.from(GenerationStage.NAME, config), meters));
        }
        sink = SinkStage.start(config, meters, table);
        running.add(sink);
    }

    /**
     * The views on {@code views.http.port} (7070); if that port is taken and the user did not choose it, on a
     * free one (a second demo, or a views stage already running, must not stop this run). Its meters stay apart
     * from the stages': the embedded pipeline serves no /metrics of its own to mix them into.
     */
    private static ViewsStage startViews(Map<String, String> config, SchemaRegistryClient client, boolean portChosen) {
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            return ViewsStage.start(config, client, meters);
        } catch (UncheckedIOException e) {
            if (!(e.getCause() instanceof java.net.BindException) || portChosen) {
                throw e;
            }
            Map<String, String> anyPort = new HashMap<>(config);
            anyPort.put(ViewsConfig.HTTP_PORT.name(), "0");
            return ViewsStage.start(anyPort, client, meters);
        }
    }

    /** Where the results browser is, e.g. {@code http://localhost:7070/}. */
    String viewsUrl() {
        return views.url() + "/";
    }

    /**
     * Waits until the sink has committed to the lake every answer on the answers topic now, so that
     * closing loses nothing of this run. The broker is this pipeline's own, so the topic holds only
     * answers that this pipeline's sink is to write.
     */
    boolean awaitLake(Duration timeout) throws InterruptedException {
        String topic = TopicCatalogue.fromConfig(config).name(dev.mgmstream.schemas.topics.TopicRole.ANSWERS);
        sink.flushSoon(); // the run has its results, so the sink can commit while the answers are counted
        long answers = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "isolation.level", "read_committed"), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                answers += c.poll(Duration.ofMillis(200)).count();
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (sink.recordsCommitted() < answers) {
            if (System.nanoTime() > deadline || sink.failure().isPresent()) {
                return false;
            }
            sink.flushSoon(); // every answer is on the topic: no point waiting out the commit interval
            Thread.sleep(50);
        }
        return true;
    }

    /** The configuration clients of this pipeline use (bootstrap servers and registry URL included). */
    Map<String, String> config() {
        return config;
    }

    String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    String registryUrl() {
        return registry.url();
    }

    /**
     * Stops the stages (each finishes or abandons its batch consistently), then the registry and the broker.
     * The stages stop side by side: each one's stop waits out its own consumer's leave and its producer's
     * close, and one after another those waits added up to seconds at the end of every run. Once they have
     * stopped, nothing uses the models any more, so those close beside the broker (half a second each).
     */
    @Override
    public void close() {
        List<CompletableFuture<Void>> stopping = new ArrayList<>();
        for (AutoCloseable c : running) {
            stopping.add(CompletableFuture.runAsync(() -> closeQuietly(List.of(c)), daemon("embedded-stage-stop")));
        }
        stopping.forEach(CompletableFuture::join);
        // A model closed under a batch still inside it crashes the JVM; left open, it goes with the process.
        boolean idle = running.stream().noneMatch(c -> c instanceof Stage<?, ?> s && !s.workersStopped());
        if (!idle) {
            System.err.println("mgm: a stage's batch is still computing after the stop; its models are left open");
        }
        CompletableFuture<Void> unloading = CompletableFuture.runAsync(() -> closeQuietly(idle ? models : List.of()),
                daemon("embedded-model-close"));
        client.close();
        registry.close();
        kafka.close();
        unloading.join();
    }
}
