package dev.mgmstream.views;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.registry.RegistryServerConfig;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two views instances on the in-process broker and registry: they split the partitions, and each answers
 * over HTTP for keys the other holds; transactions the stages aborted never reach a view.
 */
class ViewsStageTest {

    static InProcessSchemaRegistry registry;
    static SchemaRegistryClient client;

    @TempDir
    Path state;

    @BeforeAll
    static void registry() {
        registry = InProcessSchemaRegistry.start(RegistryServerConfig.of(SharedKafka.bootstrapServers(), 0)
                .withTopic("_schemas-views-" + UUID.randomUUID()));
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

    @Test
    void twoInstancesSplitThePartitionsAndEachAnswersForKeysTheOtherHolds() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        Map<String, String> config = new HashMap<>();
        config.put("bootstrap.servers", SharedKafka.bootstrapServers());
        config.put("schema.registry.url", registry.url());
        config.put("topics.prefix", "views-" + run + ".");
        config.put("topics.partitions", "4");
        config.put(ViewsConfig.APPLICATION_ID.name(), "views-" + run);
        config.put(ViewsConfig.HTTP_PORT.name(), "0");
        config.put(ViewsConfig.ADVERTISED_HOST.name(), "127.0.0.1");
        config.put(ViewsConfig.STATE_DIR.name(), state.toString());
        config.put(ViewsConfig.STANDBY_REPLICAS.name(), "0");
        // quick rebalances: the second instance joins a group the first has just formed
        config.put("kafka.consumer.session.timeout.ms", "10000");
        config.put("kafka.consumer.heartbeat.interval.ms", "500");
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            new TopicProvisioner(admin).ensure(topics.all());
        }

        int n = 24;
        List<String> taskIds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            taskIds.add("task-" + run + "-" + i);
        }
        produce(topics, taskIds);

        PrometheusMeterRegistry meters1 = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        PrometheusMeterRegistry meters2 = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Map<String, String> c1 = new HashMap<>(config);
        c1.put("stage.instance.id", "v1");
        Map<String, String> c2 = new HashMap<>(config);
        c2.put("stage.instance.id", "v2");
        ViewsClient http = new ViewsClient(Duration.ofSeconds(10));
        try (ViewsStage v1 = ViewsStage.start(c1, client, meters1);
             ViewsStage v2 = ViewsStage.start(c2, client, meters2)) {
            List<ViewsStage> both = List.of(v1, v2);
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                for (ViewsStage v : both) {
                    assertThat(v.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
                    assertThat(v.streams().metadataForAllStreamsClients()).hasSize(2);
                    assertThat(http.get(v.url(), "/health/ready").status()).isEqualTo(200);
                }
                // every task counted once, whichever instance holds it
                JsonNode stats = json(http.get(v1.url(), "/stats"));
                assertThat(stats.path("tasks").asLong()).isEqualTo(n);
                assertThat(stats.path("states").path("answered").asLong()).isEqualTo(n - 1);
                assertThat(stats.path("states").path("rejected").asLong()).isEqualTo(1);
                assertThat(stats.path("instances")).hasSize(2);
            });
            for (ViewsStage v : both) {
                assertThat(json(http.get(v.url(), "/stats")).path("tasks").asLong()).isEqualTo(n);
            }

            // Each instance is asked for a task and an image the other one holds.
            for (int i = 0; i < 2; i++) {
                ViewsStage asked = both.get(i);
                ViewsStage other = both.get(1 - i);
                String task = ownedBy(other, ViewsTopology.TASKS_STORE, taskIds);
                ViewsClient.Reply reply = http.get(asked.url(), ViewsClient.taskPath(task));
                assertThat(reply.status()).as(reply.body()).isEqualTo(200);
                JsonNode status = json(reply);
                assertThat(status.path("task_id").asText()).isEqualTo(task);
                int index = taskIds.indexOf(task);
                assertThat(status.path("state").asText()).isEqualTo(index == 0 ? "rejected" : "answered");
                assertThat(status.path("kind").asText()).isEqualTo(index % 2 == 0 ? "caption" : "vqa");
                assertThat(status.path("times").has("published")).isTrue();
                assertThat(status.path("times").has("answered")).isTrue();

                // every image but the first has a caption (the first image's caption task was rejected)
                List<String> images = taskIds.stream().skip(2).map(ViewsStageTest::imageOf).distinct().toList();
                String image = ownedBy(other, ViewsTopology.REPORTS_STORE, images);
                JsonNode report = json(http.get(asked.url(), ViewsClient.imagePath(image)));
                assertThat(report.path("image_id").asText()).isEqualTo(image);
                assertThat(report.path("answers")).hasSize(report.path("answer_count").asInt()).isNotEmpty();
                assertThat(report.path("caption").path("text").asText()).startsWith("a caption of");
            }

            // a rejected task, with its reason; an aborted answer is nowhere; an unknown task is a 404
            JsonNode rejected = json(http.get(v2.url(), ViewsClient.taskPath(taskIds.get(0))));
            assertThat(rejected.path("reason").asText()).isEqualTo("image could not be decoded");
            assertThat(http.get(v1.url(), ViewsClient.taskPath("aborted-" + run)).status()).isEqualTo(404);
            assertThat(http.get(v2.url(), ViewsClient.taskPath("no such task")).status()).isEqualTo(404);
            assertThat(http.get(v1.url(), "/metrics").body()).contains("kafka_stream");
        }
    }

    /** An image per pair of tasks, a caption task and a question on each; the first task rejected. */
    private static void produce(TopicCatalogue topics, List<String> taskIds) {
        Serializer<ImageTask> tasks = AvroSerdes.valueSerde(topics.spec(TopicRole.IMAGE_TASKS), ImageTask.class,
                client, Map.of()).serializer();
        Serializer<Answer> answers = AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class, client,
                Map.of()).serializer();
        Map<String, Object> p = new HashMap<>();
        p.put("bootstrap.servers", SharedKafka.bootstrapServers());
        p.put("transactional.id", "views-test-" + UUID.randomUUID());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                new org.apache.kafka.common.serialization.ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            for (int i = 0; i < taskIds.size(); i++) {
                String id = taskIds.get(i);
                TaskKind kind = i % 2 == 0 ? TaskKind.CAPTION : TaskKind.VQA;
                String tasksTopic = topics.name(TopicRole.IMAGE_TASKS);
                producer.send(new ProducerRecord<>(tasksTopic, id, tasks.serialize(tasksTopic,
                        Records.task(id, kind, kind == TaskKind.VQA ? "What colour?" : null))));
                Answer a = i == 0
                        ? Records.answer(id, null, kind, AnswerStatus.REJECTED, null, "image could not be decoded")
                        : Records.answer(id, imageOf(id), kind, AnswerStatus.OK,
                                kind == TaskKind.CAPTION ? "a caption of " + imageOf(id) : "red", null);
                String answersTopic = topics.name(TopicRole.ANSWERS);
                producer.send(new ProducerRecord<>(answersTopic, id, answers.serialize(answersTopic, a)));
            }
            producer.commitTransaction();
            // what a stage wrote and then aborted (a fenced instance, a failed commit) is not an answer
            producer.beginTransaction();
            String answersTopic = topics.name(TopicRole.ANSWERS);
            String aborted = "aborted-" + taskIds.get(0).split("-")[1];
            producer.send(new ProducerRecord<>(answersTopic, aborted, answers.serialize(answersTopic,
                    Records.answer(aborted, "ff".repeat(32), TaskKind.CAPTION, AnswerStatus.OK, "never", null))));
            producer.flush();
            producer.abortTransaction();
        }
    }

    private static String imageOf(String taskId) {
        int i = Integer.parseInt(taskId.substring(taskId.lastIndexOf('-') + 1));
        return String.format("%064x", (long) (i / 2) + 1);
    }

    /** A key of {@code candidates} whose partition of {@code store} {@code owner} is active for. */
    private static String ownedBy(ViewsStage owner, String store, List<String> candidates) {
        for (String key : candidates) {
            KeyQueryMetadata m = owner.streams().queryMetadataForKey(store, key, Serdes.String().serializer());
            if (m.activeHost().port() == owner.port()) {
                return key;
            }
        }
        throw new AssertionError("no key of " + store + " on " + owner.url() + ": the partitions were not split");
    }

    private static JsonNode json(ViewsClient.Reply reply) throws Exception {
        return ViewsJson.JSON.readTree(reply.body().getBytes(StandardCharsets.UTF_8));
    }
}
