package dev.mgmstream.reasoning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mgmstream.model.lm.GoldenTasks;
import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.kafka.TopicReader;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.registry.RegistryServerConfig;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The reasoning stage on the in-process broker and schema registry with the real model: VisualTokens
 * records carrying the golden scenes' tasks in, exactly one outcome per task out (answers equal to the
 * Python reference's, generation requests or failed answers for generate tasks), and a record for an
 * unknown model dead-lettered with a rejected answer for each of its tasks.
 */
class ReasoningStageTest {

    static InProcessSchemaRegistry registry;
    static SchemaRegistryClient client;
    static final GenerationTags TAGS = new GenerationTags(List.of("<h>", "</h>"));

    @BeforeAll
    static void registry() {
        registry = InProcessSchemaRegistry.start(RegistryServerConfig.of(SharedKafka.bootstrapServers(), 0)
                .withTopic("_schemas-reasoning-" + UUID.randomUUID()));
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

    static Map<String, String> config() {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", SharedKafka.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("topics.prefix", "rsn-" + UUID.randomUUID().toString().substring(0, 8) + ".");
        c.put("topics.partitions", "2");
        c.put("stage.batch.max.size", "6");
        c.put("stage.batch.linger.ms", "200");
        // Generous on purpose: on a machine shared with training jobs a batch can take minutes.
        c.put("stage.batch.timeout.ms", "600000");
        c.put("stage.instance.id", UUID.randomUUID().toString());
        c.put(ReasoningConfig.MODEL_DIRS.name(), GoldenTasks.modelDir().toString());
        c.put(ReasoningConfig.ENGINE_INTRA_THREADS.name(), "2");
        c.put(ReasoningConfig.SLOTS.name(), "16");
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            new TopicProvisioner(admin).ensure(TopicCatalogue.fromConfig(c).all());
        }
        return c;
    }

    static void produce(Map<String, String> config, List<VisualTokens> records) {
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        try (KafkaProducer<String, VisualTokens> p = new KafkaProducer<>(
                Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), new StringSerializer(),
                AvroSerdes.valueSerde(topics.spec(TopicRole.VISUAL_TOKENS), VisualTokens.class, client, Map.of())
                        .serializer())) {
            for (VisualTokens v : records) {
                p.send(new ProducerRecord<>(topics.name(TopicRole.VISUAL_TOKENS), v.getImageId(), v));
            }
            p.flush();
        }
    }

    static <T> List<ConsumerRecord<String, T>> read(Map<String, String> config, TopicRole role, Class<T> type) {
        String topic = TopicCatalogue.fromConfig(config).name(role);
        @SuppressWarnings({"unchecked", "rawtypes"})
        Deserializer<T> values = (Deserializer<T>) AvroSerdes.valueDeserializer((Class) type, client);
        return TopicReader.committed(SharedKafka.bootstrapServers(), topic, values);
    }

    @Test
    void visualTokensBecomeOneOutcomePerTask() throws Exception {
        Map<String, String> config = config();
        List<Golden.Scene> scenes = Golden.SCENES.subList(0, Math.min(4, Golden.SCENES.size()));
        List<VisualTokens> records = new ArrayList<>();
        int tasks = 0;
        for (int i = 0; i < scenes.size(); i++) {
            // Half the scenes travel in half precision, as the encoders write them by default.
            records.add(Golden.tokens(scenes.get(i), modelId(), i % 2 == 0 ? "float32" : "float16",
                    Golden.tasks(scenes.get(i))));
            tasks += scenes.get(i).tasks().size();
        }
        records.add(2, Golden.tokens(scenes.get(0), "no-such-model", "float32", List.of(
                Golden.task("lost-1", TaskKind.CAPTION, null), Golden.task("lost-2", TaskKind.VQA, "Is there a sign?"))));
        produce(config, records);

        runUntilCommitted(config, records.size());

        List<ConsumerRecord<String, Answer>> answers = read(config, TopicRole.ANSWERS, Answer.class);
        List<ConsumerRecord<String, GenerationRequest>> requests = read(config, TopicRole.GENERATION_REQUESTS,
                GenerationRequest.class);
        List<ConsumerRecord<String, Rejection>> dead = read(config, TopicRole.DLQ_REASONING, Rejection.class);

        Map<String, Integer> outcomes = new HashMap<>();
        answers.forEach(r -> outcomes.merge(r.key(), 1, Integer::sum));
        requests.forEach(r -> outcomes.merge(r.key(), 1, Integer::sum));
        assertThat(outcomes).hasSize(tasks + 2);
        assertThat(outcomes.values()).allMatch(n -> n == 1);

        for (ConsumerRecord<String, Answer> r : answers) {
            Answer a = r.value();
            assertThat(r.key()).isEqualTo(a.getTaskId());
            if (a.getTaskId().startsWith("lost-")) {
                assertThat(a.getStatus()).isEqualTo(AnswerStatus.REJECTED);
                assertThat(a.getReason()).contains("unknown model id 'no-such-model'");
                continue;
            }
            GoldenTasks.Task ref = Golden.reference(a.getTaskId());
            if (ref.kind().equals("generate")) {
                assertThat(a.getStatus()).isEqualTo(AnswerStatus.FAILED);
                assertThat(a.getReason()).startsWith("no generation prompt");
            } else {
                assertThat(a.getStatus()).isEqualTo(AnswerStatus.OK);
                if (sceneIndex(scenes, a.getImageId()) % 2 == 0) {   // float32 tokens: exactly the reference
                    assertThat(a.getText()).as(ref.name()).isEqualTo(ref.greedyAnswer());
                }
            }
        }
        for (ConsumerRecord<String, GenerationRequest> r : requests) {
            GoldenTasks.Task ref = Golden.reference(r.key());
            assertThat(r.value().getPrompt()).isNotBlank();
            if (sceneIndex(scenes, r.value().getImageId()) % 2 == 0) {
                assertThat(r.value().getPrompt()).isEqualTo(TAGS.extract(ref.greedyAnswer()).prompt().orElseThrow());
            }
        }
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).value().getStage()).isEqualTo("reasoning");
        assertThat(dead.get(0).value().getErrorMessage()).contains("no-such-model");
    }

    @Test
    void aRecordWhoseValueDoesNotDecodeStillAnswersTheTasksItsHeaderNames() throws Exception {
        Map<String, String> config = config();
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        String topic = topics.name(TopicRole.VISUAL_TOKENS);
        VisualTokens whole = Golden.tokens(Golden.SCENES.get(0), modelId(), "float32", List.of(
                Golden.task("c1", TaskKind.CAPTION, null), Golden.task("c2", TaskKind.VQA, "Is there a sign?")));
        byte[] framed = AvroSerdes.valueSerde(topics.spec(TopicRole.VISUAL_TOKENS), VisualTokens.class, client, Map.of())
                .serializer().serialize(topic, whole);
        // Cut short, as a record damaged on the way: the schema id is right, the body is not all there.
        byte[] cut = Arrays.copyOf(framed, 40);
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(
                Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), new StringSerializer(),
                new ByteArraySerializer())) {
            ProducerRecord<String, byte[]> named = new ProducerRecord<>(topic, whole.getImageId(), cut);
            named.headers().add(TaskIdsHeader.NAME,
                    TaskIdsHeader.encode(List.of("c1", "c2")).getBytes(StandardCharsets.UTF_8));
            p.send(named);
            p.send(new ProducerRecord<>(topic, "img-unnamed", "not avro at all".getBytes(StandardCharsets.UTF_8)));
            p.flush();
        }

        runUntilCommitted(config, 2);

        Map<String, Answer> answers = new HashMap<>();
        read(config, TopicRole.ANSWERS, Answer.class).forEach(r -> answers.put(r.key(), r.value()));
        assertThat(answers).containsOnlyKeys("c1", "c2");
        assertThat(answers.values()).allSatisfy(a -> {
            assertThat(a.getStatus()).isEqualTo(AnswerStatus.REJECTED);
            assertThat(a.getImageId()).isEqualTo(whole.getImageId());
            assertThat(a.getReason()).contains("SerializationException");
        });
        assertThat(read(config, TopicRole.DLQ_REASONING, Rejection.class)).hasSize(2);
    }

    /** Runs the stage until it has committed {@code expected} inputs, and checks it did not fail. */
    static void runUntilCommitted(Map<String, String> config, int expected) {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        AtomicInteger committed = new AtomicInteger();
        try (ReasoningStage reasoning = ReasoningStage.open(config, client, meters);
             Stage<String, VisualTokens> stage = reasoning.start(StageSettings.from(ReasoningStage.NAME, config), meters,
                     new StageListener() {
                         @Override
                         public void afterCommit(int inputs, int records) {
                             committed.addAndGet(inputs);
                         }
                     })) {
            // A ceiling, not a wait: about half a minute on an idle 2-core machine, much more under load.
            await().atMost(Duration.ofMinutes(10)).until(() -> committed.get() >= expected);
            assertThat(stage.failure()).isEmpty();
        }
    }

    static int sceneIndex(List<Golden.Scene> scenes, String imageId) {
        for (int i = 0; i < scenes.size(); i++) {
            if (imageId.equals("img-" + scenes.get(i).id())) {
                return i;
            }
        }
        throw new AssertionError("no scene for " + imageId);
    }

    static String modelId() {
        return dev.mgmstream.model.ModelManifest.load(GoldenTasks.modelDir()).modelId();
    }
}
