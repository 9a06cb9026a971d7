package dev.mgmstream.encoders;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mgmstream.encoders.cache.VisualTokenCache;
import dev.mgmstream.model.vision.GoldenScenes;
import dev.mgmstream.model.vision.HostileCorpus;
import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.kafka.TopicReader;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.registry.RegistryServerConfig;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The encoders stage on the in-process broker and schema registry, with the real model: tasks in,
 * visual tokens out, rejected tasks answered and dead-lettered, an image encoded once across batches and
 * across a restart, and the hostile corpus passing through without stopping the stage or losing a task.
 */
class EncodersStageTest {

    static InProcessSchemaRegistry registry;
    static SchemaRegistryClient client;
    static GoldenScenes golden = new GoldenScenes(GoldenScenes.modelDir("mgm-tiny"));

    @TempDir
    Path tmp;

    @BeforeAll
    static void registry() {
        registry = InProcessSchemaRegistry.start(RegistryServerConfig.of(SharedKafka.bootstrapServers(), 0)
                .withTopic("_schemas-encoders-" + UUID.randomUUID()));
        client = HttpSchemaRegistryClient.fromConfig(Map.of("schema.registry.url", registry.url()));
    }

    @AfterAll
    static void stop() {
        if (client != null) {
            client.close();
        }
        if (registry != null) {
            registry.close();
        }
    }

    private Map<String, String> config(Path images) {
        return config(images, Map.of());
    }

    private Map<String, String> config(Path images, Map<String, String> overrides) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", SharedKafka.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("topics.prefix", "enc-" + UUID.randomUUID().toString().substring(0, 8) + ".");
        c.put("topics.partitions", "2");
        c.put("stage.batch.max.size", "16");
        c.put("stage.batch.linger.ms", "300");
        c.put("stage.instance.id", UUID.randomUUID().toString());
        c.put(EncodersConfig.MODEL_DIR.name(), GoldenScenes.modelDir("mgm-tiny").toString());
        c.put(EncodersConfig.ENGINE_INTRA_THREADS.name(), "2");
        c.put(EncodersConfig.STORE_URI.name(), tmp.resolve("store").toString());
        c.put(EncodersConfig.CACHE_STATE_DIR.name(), tmp.resolve("cache-state").toString());
        c.put(EncodersConfig.FILE_ROOTS.name(), images.toString());
        c.put(EncodersConfig.S3_ENABLED.name(), "false");
        c.put(EncodersConfig.MAX_BYTES.name(), Long.toString(HostileCorpus.LIMITS.maxBytes()));
        c.put(EncodersConfig.MAX_PIXELS.name(), Long.toString(HostileCorpus.LIMITS.maxPixels()));
        c.putAll(overrides);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            new TopicProvisioner(admin).ensure(TopicCatalogue.fromConfig(c).all());
        }
        return c;
    }

    /** A running stage and what it has committed. */
    private record Running(EncodersStage encoders, Stage<String, ImageTask> stage, MeterRegistry meters,
                           AtomicInteger committed) implements AutoCloseable {
        double counter(String name) {
            return meters.get(name).counter().count();
        }

        @Override
        public void close() {
            stage.close();
            encoders.close();
        }
    }

    private Running start(Map<String, String> config) {
        MeterRegistry meters = new SimpleMeterRegistry();
        EncodersStage encoders = EncodersStage.open(config, client, meters);
        AtomicInteger committed = new AtomicInteger();
        Stage<String, ImageTask> stage = encoders.start(EncodersStage.settings(config), meters,
                new StageListener() {
                    @Override
                    public void afterCommit(int inputs, int records) {
                        committed.addAndGet(inputs);
                    }
                });
        return new Running(encoders, stage, meters, committed);
    }

    private void produce(Map<String, String> config, List<ImageTask> tasks) {
        String topic = TopicCatalogue.fromConfig(config).name(TopicRole.IMAGE_TASKS);
        try (KafkaProducer<String, ImageTask> p = new KafkaProducer<>(
                // one batch in flight: a refused first batch is then retried before any later one is
                // sent, so it cannot turn into an endless OUT_OF_ORDER_SEQUENCE_NUMBER loop
                Map.of("bootstrap.servers", SharedKafka.bootstrapServers(), "max.request.size", 8 << 20,
                        "max.in.flight.requests.per.connection", 1),
                new StringSerializer(), AvroSerdes.valueSerde(TopicCatalogue.fromConfig(config)
                        .spec(TopicRole.IMAGE_TASKS), ImageTask.class, client, Map.of()).serializer())) {
            for (ImageTask t : tasks) {
                p.send(new ProducerRecord<>(topic, t.getTaskId(), t));
            }
            p.flush();
        }
    }

    private <T> List<ConsumerRecord<String, T>> read(Map<String, String> config, TopicRole role, Class<T> type) {
        String topic = TopicCatalogue.fromConfig(config).name(role);
        @SuppressWarnings({"unchecked", "rawtypes"})
        Deserializer<T> values = (Deserializer<T>) AvroSerdes.valueDeserializer((Class) type, client);
        return TopicReader.committed(SharedKafka.bootstrapServers(), topic, values);
    }

    private static Set<String> taskIds(List<ConsumerRecord<String, VisualTokens>> tokens) {
        Set<String> ids = new HashSet<>();
        tokens.forEach(r -> r.value().getTasks().forEach(t -> ids.add(t.getTaskId())));
        return ids;
    }

    @Test
    void tasksBecomeVisualTokensOrRejectedAnswersAndEachImageIsEncodedOnce() throws Exception {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Files.copy(golden.scenes().get(1).image(), images.resolve("scene-1.png"));
        byte[] scene0 = Files.readAllBytes(golden.scenes().get(0).image());
        byte[] cut = HostileCorpus.all().stream().filter(s -> s.kind().equals("truncated JPEG")).findFirst()
                .orElseThrow().bytes();
        Map<String, String> config = config(images);
        produce(config, List.of(
                Tasks.inline("t1", scene0, null),
                Tasks.inline("t2", scene0, "Is there a red circle?"),
                Tasks.uri("t3", images.resolve("scene-1.png").toUri().toString()),
                Tasks.inline("t4", cut, null),
                Tasks.inline("t5", "%PDF-1.4 not an image".getBytes(), null)));

        try (Running run = start(config)) {
            await().atMost(Duration.ofSeconds(120)).until(() -> run.committed().get() >= 5);

            List<ConsumerRecord<String, VisualTokens>> tokens = read(config, TopicRole.VISUAL_TOKENS, VisualTokens.class);
            assertThat(taskIds(tokens)).containsExactlyInAnyOrder("t1", "t2", "t3");
            ConsumerRecord<String, VisualTokens> first = tokens.stream()
                    .filter(r -> r.value().getTasks().stream().anyMatch(t -> t.getTaskId().equals("t1")))
                    .findFirst().orElseThrow();
            assertThat(first.key()).isEqualTo(TokenWriter.sha256(scene0));
            assertThat(first.value().getModelId()).isEqualTo(run.encoders().modelId());
            float[] got = TensorBytes.decode(bytes(first.value().getPayload()), first.value().getDtype());
            float[] want = golden.tensor(golden.scenes().get(0), "visual_tokens");
            GoldenScenes.assertFloat16Tokens("tokens of t1", got, want);

            Map<String, Answer> answers = new HashMap<>();
            read(config, TopicRole.ANSWERS, Answer.class).forEach(r -> answers.put(r.key(), r.value()));
            assertThat(answers).containsOnlyKeys("t4", "t5");
            assertThat(answers.get("t4").getStatus()).isEqualTo(AnswerStatus.REJECTED);
            assertThat(answers.get("t4").getReason()).startsWith("image rejected: ").containsAnyOf("truncated", "corrupt");
            assertThat(answers.get("t5").getReason()).contains("PDF");
            assertThat(answers.get("t5").getAttributes()).containsEntry("test", "t5");

            List<ConsumerRecord<String, Rejection>> dead = read(config, TopicRole.DLQ_ENCODERS, Rejection.class);
            assertThat(dead).extracting(r -> r.value().getTaskId()).containsExactlyInAnyOrder("t4", "t5");
            assertThat(dead).allSatisfy(r -> assertThat(r.value().getErrorClass())
                    .isEqualTo(ImageRejectedException.class.getName()));

            assertThat(read(config, TopicRole.VISUAL_TOKEN_CACHE, VisualTokens.class)).extracting(ConsumerRecord::key)
                    .containsExactlyInAnyOrder(VisualTokenCache.key(TokenWriter.sha256(scene0), run.encoders().modelId()),
                            VisualTokenCache.key(TokenWriter.sha256(Files.readAllBytes(images.resolve("scene-1.png"))),
                                    run.encoders().modelId()));
            assertThat(run.counter("mgm.encoders.images.encoded")).isEqualTo(2);

            // A later question about an image already encoded: answered from the cache, no encoder run.
            produce(config, List.of(Tasks.inline("t6", scene0, "How many shapes?")));
            await().atMost(Duration.ofSeconds(60)).until(() -> run.committed().get() >= 6);
            assertThat(run.counter("mgm.encoders.images.encoded")).isEqualTo(2);
            assertThat(run.counter("mgm.encoders.cache.hits")).isEqualTo(1);
            assertThat(taskIds(read(config, TopicRole.VISUAL_TOKENS, VisualTokens.class))).contains("t6");
        }

        // A new instance (a restart) reads the cache topic first, so it does not encode scene 1 again.
        try (Running again = start(config)) {
            produce(config, List.of(Tasks.uri("t7", images.resolve("scene-1.png").toUri().toString())));
            await().atMost(Duration.ofSeconds(60)).until(() -> again.committed().get() >= 1);
            assertThat(again.counter("mgm.encoders.images.encoded")).isZero();
            assertThat(again.counter("mgm.encoders.cache.hits")).isEqualTo(1);
            assertThat(taskIds(read(config, TopicRole.VISUAL_TOKENS, VisualTokens.class))).contains("t7");
        }
    }

    @Test
    void theHostileCorpusPassesThroughWithoutStoppingTheStageOrLosingATask() throws Exception {
        Map<String, String> config = config(Files.createDirectories(tmp.resolve("images")));
        List<HostileCorpus.Sample> corpus = HostileCorpus.all();
        List<ImageTask> tasks = new ArrayList<>();
        for (int i = 0; i < corpus.size(); i++) {
            tasks.add(Tasks.inline("h" + i, corpus.get(i).bytes(), null));
        }
        produce(config, tasks);
        try (Running run = start(config)) {
            await().atMost(Duration.ofSeconds(180)).until(() -> run.committed().get() >= corpus.size());
            assertThat(run.stage().state()).isEqualTo(Stage.State.RUNNING);

            Set<String> encoded = taskIds(read(config, TopicRole.VISUAL_TOKENS, VisualTokens.class));
            Map<String, Answer> rejected = new HashMap<>();
            read(config, TopicRole.ANSWERS, Answer.class).forEach(r -> rejected.put(r.key(), r.value()));
            for (int i = 0; i < corpus.size(); i++) {
                HostileCorpus.Sample s = corpus.get(i);
                String id = "h" + i;
                if (s.expect().encoded()) {
                    assertThat(encoded).as(s.kind()).contains(id);
                } else {
                    assertThat(rejected).as(s.kind()).containsKey(id);
                    assertThat(rejected.get(id).getReason()).as(s.kind()).startsWith("image rejected: ");
                }
            }
            assertThat(encoded.size() + rejected.size()).as("one outcome per task").isEqualTo(corpus.size());
            assertThat(read(config, TopicRole.DLQ_ENCODERS, Rejection.class)).hasSize(rejected.size());
        }
    }

    @Test
    void whenTheTokensOfAnImageCannotBeWrittenEveryTaskOnThatImageIsRejectedAndAnswered() throws Exception {
        // One partition, so that all three tasks meet in one batch; and a producer limit under the size of
        // a tokens record (9 x 128 half floats inline), so that no tokens record can be written: the records
        // of scene 0 stand for t1 and t2 together, and t2 must not be committed without an answer.
        Map<String, String> config = config(Files.createDirectories(tmp.resolve("images")),
                Map.of("topics.partitions", "1", "kafka.producer.max.request.size", "2200"));
        byte[] scene0 = Files.readAllBytes(golden.scenes().get(0).image());
        byte[] scene1 = Files.readAllBytes(golden.scenes().get(1).image());
        produce(config, List.of(
                Tasks.inline("t1", scene0, null),
                Tasks.inline("t2", scene0, "Is there a red circle?"),
                Tasks.inline("t3", scene1, null)));

        try (Running run = start(config)) {
            await().atMost(Duration.ofSeconds(120)).until(() -> run.committed().get() >= 3);

            assertThat(read(config, TopicRole.VISUAL_TOKENS, VisualTokens.class)).isEmpty();
            assertThat(read(config, TopicRole.VISUAL_TOKEN_CACHE, VisualTokens.class)).isEmpty();
            Map<String, Answer> answers = new HashMap<>();
            read(config, TopicRole.ANSWERS, Answer.class).forEach(r -> answers.put(r.key(), r.value()));
            assertThat(answers).containsOnlyKeys("t1", "t2", "t3");
            assertThat(answers.values()).allSatisfy(a -> {
                assertThat(a.getStatus()).isEqualTo(AnswerStatus.REJECTED);
                assertThat(a.getReason()).startsWith("the encoders stage could not process the task");
            });
            assertThat(answers.get("t2").getReason()).contains("RecordTooLargeException");
            assertThat(answers.get("t2").getPrompt()).isEqualTo("Is there a red circle?");
            assertThat(read(config, TopicRole.DLQ_ENCODERS, Rejection.class)).hasSize(3);
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

}
