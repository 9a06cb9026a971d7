package dev.mgmstream.pipeline.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Reject;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageDefinition;
import dev.mgmstream.pipeline.stage.StageSettings;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class StageMetricsEndpointTest {

    @Test
    void aRunningStageIsScrapableInPrometheusFormat() throws Exception {
        String bootstrap = SharedKafka.bootstrapServers();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic("m-in", Optional.of(1), Optional.empty()),
                    new NewTopic("m-out", Optional.of(1), Optional.empty()),
                    new NewTopic("m-dlq", Optional.of(1), Optional.empty()))).all().get();
        }
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap),
                new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>("m-in", "k" + i, i == 3 ? "bad" : "v" + i));
            }
        }
        OutputTopic<String, String> out = new OutputTopic<>("m-out", new StringSerializer(), new StringSerializer());
        StageDefinition<String, String> definition = StageDefinition.<String, String>builder("metered")
                .setInput(List.of("m-in"), new StringDeserializer(), new StringDeserializer())
                .setDeadLetterTopic("m-dlq")
                .setBatchFunction(batch -> batch.stream().<Emitted>map(in -> in.value().equals("bad")
                        ? Reject.of(in, new IllegalArgumentException("bad"))
                        : Output.of(in, out, in.key(), in.value())).toList())
                .build();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        StageSettings settings = StageSettings.from("metered", Map.of("bootstrap.servers", bootstrap,
                "stage.batch.max.size", "4", "stage.batch.linger.ms", "0"));
        HttpClient http = HttpClient.newHttpClient();
        try (MetricsServer server = MetricsServer.start(registry, 0).orElseThrow();
             Stage<String, String> stage = Stage.start(new Stage<>(definition, settings, registry))) {
            URI uri = URI.create("http://localhost:" + server.port() + "/metrics");
            await().atMost(Duration.ofSeconds(60)).until(() -> scrape(http, uri)
                    .contains("mgm_stage_records_in_total{stage=\"metered\"} 10.0"));
            String body = scrape(http, uri);
            assertThat(body)
                    .contains("jvm_memory_used_bytes").contains("process_cpu_usage")
                    .contains("kafka_consumer_fetch_manager_records_consumed_total")
                    .contains("mgm_stage_records_out_total{stage=\"metered\"} 9.0")
                    .contains("mgm_stage_dead_lettered_total{stage=\"metered\"} 1.0")
                    .contains("mgm_stage_batch_size_records_bucket{stage=\"metered\",le=\"4.0\"}")
                    .contains("mgm_stage_batch_latency_seconds_count{stage=\"metered\"}")
                    .contains("mgm_stage_consumer_lag_records{stage=\"metered\"}");
        }
        assertThat(MetricsServer.start(registry, -1)).as("-1 turns the endpoint off").isEmpty();
    }

    @Test
    void theProbesSayWhenTheStageRunsInItsGroupAndWhenOnlyARestartHelps() throws Exception {
        String bootstrap = SharedKafka.bootstrapServers();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic("h-in", Optional.of(1), Optional.empty()),
                    new NewTopic("h-dlq", Optional.of(1), Optional.empty()))).all().get();
        }
        StageDefinition<String, String> definition = StageDefinition.<String, String>builder("probed")
                .setInput(List.of("h-in"), new StringDeserializer(), new StringDeserializer())
                .setDeadLetterTopic("h-dlq")
                .setBatchFunction(batch -> List.of())
                .build();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        HttpClient http = HttpClient.newHttpClient();
        try (MetricsServer server = MetricsServer.start(registry, 0).orElseThrow()) {
            URI live = URI.create("http://localhost:" + server.port() + "/health/live");
            URI ready = URI.create("http://localhost:" + server.port() + "/health/ready");
            assertThat(status(http, live)).as("the process answers").isEqualTo(200);
            assertThat(status(http, ready)).as("nothing registered yet: starting").isEqualTo(503);
            Stage<String, String> stage = new Stage<>(definition, StageSettings.from("probed",
                    Map.of("bootstrap.servers", bootstrap)), registry);
            server.health("probed", stage::health);
            assertThat(status(http, ready)).as("not started").isEqualTo(503);
            Stage.start(stage);
            await().atMost(Duration.ofSeconds(60)).until(() -> status(http, ready) == 200);
            assertThat(status(http, live)).isEqualTo(200);
            stage.close();
            assertThat(status(http, ready)).as("stopped").isEqualTo(503);
            assertThat(status(http, live)).as("a requested stop needs no restart").isEqualTo(200);
            server.health("failed", () -> new Health(false, false, "wedged"));
            assertThat(status(http, live)).isEqualTo(503);
            assertThat(http.send(HttpRequest.newBuilder(live).build(), HttpResponse.BodyHandlers.ofString()).body())
                    .contains("failed: not ok (wedged)");
        }
    }

    private static int status(HttpClient http, URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static String scrape(HttpClient http, URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body();
    }
}
