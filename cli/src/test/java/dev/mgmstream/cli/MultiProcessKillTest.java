package dev.mgmstream.cli;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.lake.LakeSettings;
import dev.mgmstream.lake.LakeTable;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The production shape on one machine, with crashes: {@code mgm kafka}, two {@code mgm stage encoders},
 * two {@code mgm stage reasoning}, one {@code mgm stage sink} and one {@code mgm stage generation}, each
 * its own JVM, while
 * {@code mgm run} pushes the tasks through; stage processes are killed with SIGKILL twice during the
 * run and restarted with their instance ids. Every task must end with exactly one result, and the
 * lake table with exactly one row per task.
 *
 * <p>Counted where a user reads them, not through {@code mgm run}'s de-duplicated results: answers per
 * task id on the answers topic (read_committed) and rows per task id in the lake.
 *
 * <p>In {@code mvn verify} a short version runs: one copy of each stage (reasoning answering generate
 * tasks itself), 240 tasks, three SIGKILLs. The full one (two encoders, two reasoning, generation, 2000
 * tasks, seven kills) takes a while on a small machine and runs when asked:
 * {@code scripts/multiprocess-kill-test.sh} (or {@code -Dmgm.multiprocess=true}, with
 * {@code -Dmgm.multiprocess.tasks=N}).
 */
class MultiProcessKillTest {

    /** The soak of docs/benchmarks.md: 20,000 tasks, ten single kills across the stages, a broker restart. */
    private static final boolean SOAK = Boolean.getBoolean("mgm.soak");
    private static final boolean FULL = SOAK || Boolean.getBoolean("mgm.multiprocess");

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final MgmProcesses processes = new MgmProcesses();
    private final Map<String, Process> stages = new HashMap<>();

    @AfterEach
    void stopEverything() {
        processes.close();
    }

    private Process mgm(String log, String... args) throws IOException {
        return processes.start(dir, log, args);
    }

    private Process stage(String which, String instance, String bootstrap, String registry) throws IOException {
        Process p = mgm(which + "-" + instance + "-" + System.nanoTime(), "stage", which,
                "--set", "reasoning.generate.output=" + (FULL ? "request" : "answer"),
                "--bootstrap-servers", bootstrap, "--schema-registry", registry, "--instance", instance,
                "--set", "encoders.tokens.store.uri=" + dir.resolve("visual-tokens"),
                "--set", "reasoning.claim.check.roots=" + dir.resolve("visual-tokens"),
                "--set", "encoders.source.s3.enabled=false",
                "--set", "stage.batch.linger.ms=50", "--set", "sink.commit.interval.ms=2000",
                "--set", "lake.warehouse=" + dir.resolve("lake"),
                "--set", "generation.images.dir=" + dir.resolve("generated-images"));
        stages.put(which + "/" + instance, p);
        return p;
    }

    private void kill(String key, String bootstrap, String registry) throws Exception {
        Process p = stages.get(key);
        p.destroyForcibly(); // SIGKILL: no shutdown hook, no commit, no close
        p.waitFor(30, TimeUnit.SECONDS);
        String[] parts = key.split("/");
        stage(parts[0], parts[1], bootstrap, registry);
    }

    private Process broker(int port, int registryPort, String log) throws IOException {
        Process kafka = mgm(log, "kafka", "--data-dir", dir.resolve("kafka").toString(), "--port",
                Integer.toString(port), "--registry-port", Integer.toString(registryPort));
        await().atMost(Duration.ofMinutes(3)).until(() -> MgmProcesses.log(dir, log).contains("Ready."));
        assertThat(kafka.isAlive()).isTrue();
        return kafka;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private long lines(Path file) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        try (var l = Files.lines(file)) {
            return l.count();
        }
    }

    @Test
    void everyTaskEndsOnceInTheResultsAndInTheLakeDespiteKilledStages() throws Exception {
        int count = Integer.getInteger("mgm.multiprocess.tasks", SOAK ? 20_000 : FULL ? 2000 : 240);
        Path tasks = MgmProcesses.tasksOverScenes(dir, "mp-", count);
        int port = freePort();
        int registryPort = freePort();
        Process kafka = broker(port, registryPort, "kafka");
        String bootstrap = "localhost:" + port;
        String registry = "http://localhost:" + registryPort;
        try (var client = dev.mgmstream.schemas.registry.HttpSchemaRegistryClient.fromConfig(
                Map.of("schema.registry.url", registry))) {
            assertThat(client.subjects()).as("mgm kafka registers every topic's schema before any stage runs")
                    .contains("mgm.image-tasks-value", "mgm.answers-value");
        }

        List<String> copies = FULL ? List.of("1", "2") : List.of("1");
        for (String id : copies) {
            stage("encoders", "e" + id, bootstrap, registry);
            stage("reasoning", "r" + id, bootstrap, registry);
        }
        stage("sink", "s1", bootstrap, registry);
        if (FULL) {
            // generate tasks go from reasoning to the generation stage; without it they would get no result
            stage("generation", "g1", bootstrap, registry);
        }

        Path results = dir.resolve("results.jsonl");
        Process run = mgm("run", "run", "--bootstrap-servers", bootstrap, "--schema-registry", registry,
                "--input", tasks.toString(), "--output", results.toString(), "--timeout", SOAK ? "180m" : "40m");

        // Who is killed at each of the evenly spaced moments of the run.
        List<List<String>> rounds = SOAK
                ? List.of(List.of("encoders/e1"), List.of("reasoning/r1"), List.of("sink/s1"), List.of("generation/g1"),
                        List.of("encoders/e2"), List.of("reasoning/r2"), List.of("encoders/e1"), List.of("sink/s1"),
                        List.of("reasoning/r1"), List.of("encoders/e2"))
                : FULL ? List.of(List.of("encoders/e1", "reasoning/r1", "sink/s1"),
                        List.of("encoders/e2", "reasoning/r2", "sink/s1", "generation/g1"))
                : List.of(List.of("encoders/e1", "reasoning/r1"), List.of("encoders/e1", "reasoning/r1", "sink/s1"));
        for (int round = 1; round <= rounds.size(); round++) {
            long due = (long) count * round / (rounds.size() + 1);
            await().atMost(Duration.ofMinutes(60)).pollInterval(Duration.ofMillis(250))
                    .until(() -> lines(results) >= due || !run.isAlive());
            assertThat(run.isAlive()).as("the run is still going at kill round " + round).isTrue();
            for (String victim : rounds.get(round - 1)) {
                kill(victim, bootstrap, registry);
            }
            if (SOAK && round == rounds.size() / 2) {
                // The broker goes too (a rolling restart, in one node): the stages' clients wait for it.
                MgmProcesses.signal(kafka, "TERM");
                assertThat(kafka.waitFor(2, TimeUnit.MINUTES)).as("the broker stopped").isTrue();
                kafka = broker(port, registryPort, "kafka-restarted");
            }
        }

        assertThat(run.waitFor(SOAK ? 180 : 40, TimeUnit.MINUTES)).isTrue();
        assertThat(run.exitValue()).as(Files.readString(dir.resolve("run.log"))).isZero();
        Set<String> ids = new HashSet<>();
        for (String line : Files.readAllLines(results)) {
            assertThat(ids.add(JSON.readTree(line).get("task_id").asText())).as("one result per task").isTrue();
        }
        assertThat(ids).hasSize(count);

        Map<String, Long> answers = answersPerTask(bootstrap);
        assertThat(answers.keySet()).as("every task answered on the topic").isEqualTo(ids);
        assertThat(answers.values()).as("and answered once").containsOnly(1L);

        LakeSettings lake = LakeSettings.from(Map.of("lake.warehouse", dir.resolve("lake").toString()));
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(2)).until(() -> lakeRows(lake).size() >= count);
        List<String> rows = lakeRows(lake);
        assertThat(rows).hasSize(count);
        assertThat(new HashSet<>(rows)).isEqualTo(ids);
        System.out.printf("multi-process kill test: %d tasks, %d SIGKILLs%s; answers topic %d task ids, max %d "
                        + "answers per task; lake %d rows, %d task ids%n", count,
                rounds.stream().mapToInt(List::size).sum(), SOAK ? ", 1 broker restart" : "", answers.size(),
                answers.values().stream().mapToLong(Long::longValue).max().orElse(0), rows.size(),
                new HashSet<>(rows).size());
    }

    /** Answers per task id, as a read_committed consumer of the answers topic sees them. */
    static Map<String, Long> answersPerTask(String bootstrap) {
        Map<String, Long> perTask = new HashMap<>();
        String topic = dev.mgmstream.schemas.topics.TopicCatalogue.fromConfig(Map.of())
                .name(dev.mgmstream.schemas.topics.TopicRole.ANSWERS);
        try (org.apache.kafka.clients.consumer.KafkaConsumer<String, byte[]> c =
                     new org.apache.kafka.clients.consumer.KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap,
                             "isolation.level", "read_committed"),
                             new org.apache.kafka.common.serialization.StringDeserializer(),
                             new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            List<org.apache.kafka.common.TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(p -> new org.apache.kafka.common.TopicPartition(topic, p.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<org.apache.kafka.common.TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(r -> perTask.merge(r.key(), 1L, Long::sum));
            }
        }
        return perTask;
    }

    private static List<String> lakeRows(LakeSettings lake) throws IOException {
        List<String> ids = new ArrayList<>();
        if (!new File(lake.warehouse(), "mgm/answers").exists()) {
            return ids;
        }
        try (LakeTable table = LakeTable.open(lake);
             CloseableIterable<Record> it = IcebergGenerics.read(table.table()).build()) {
            it.forEach(r -> ids.add((String) r.getField("task_id")));
        }
        return ids;
    }
}
