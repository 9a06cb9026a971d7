package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.lake.LakeSettings;
import dev.mgmstream.lake.LakeTable;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C and SIGTERM at random moments (while models load, while tasks are in flight, at the end) of
 * {@code mgm run --embedded} and of {@code mgm stage all}: never a JVM crash, the exit codes README
 * states, every answered task in the lake exactly once, and no Parquet file the table does not hold.
 * The moments are drawn from a seed printed with every run, so a failure can be replayed.
 */
class InterruptTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final MgmProcesses processes = new MgmProcesses();
    private final long seed = Long.getLong("mgm.interrupt.seed", System.nanoTime());
    private final Random random = new Random(seed);

    @AfterEach
    void stop() {
        processes.close();
    }

    @Test
    void anEmbeddedRunStoppedAtAnyMomentExitsAsReadmeSaysAndItsLakeHoldsEachAnswerOnce() throws Exception {
        Path tasks = Home.samples().resolve("demo.jsonl");
        for (int i = 0; i < 6; i++) {
            Path run = Files.createDirectories(dir.resolve("run-" + i));
            String signal = MgmProcesses.deliverable(i % 2 == 0 ? "INT" : "TERM");
            long delay = random.nextInt(9_000);
            String what = "run " + i + ": SIG" + signal + " " + delay + " ms after the start (seed " + seed + ")";
            System.out.println(what);
            Process p = processes.start(run, "run", "run", "--embedded", "--input", tasks.toString(),
                    "--output", run.resolve("results.jsonl").toString(), "--lake", run.resolve("lake").toString());
            if (!p.waitFor(delay, TimeUnit.MILLISECONDS)) {
                MgmProcesses.signal(p, signal);
            }
            assertThat(p.waitFor(3, TimeUnit.MINUTES)).as(what + ": ended").isTrue();
            String log = MgmProcesses.log(run, "run");
            assertThat(MgmProcesses.crashReports(run)).as(what + ": no JVM crash\n" + log).isEmpty();
            Set<String> results = resultIds(run.resolve("results.jsonl"));
            if (p.exitValue() == 128 + (signal.equals("INT") ? 2 : 15)) {
                // Only a signal in the JVM's first moments, before the command could take it, ends it so.
                assertThat(log).as(what + ": stopped before it started\n" + log).doesNotContain("Starting the embedded");
                continue;
            }
            if (p.exitValue() == 1) {
                assertThat(log).as(what).contains("have no result");
            } else {
                assertThat(p.exitValue()).as(what + "\n" + log).isZero();
                assertThat(results).as(what).hasSize(62);
            }
            LakeSettings lake = LakeSettings.from(Map.of("lake.warehouse", run.resolve("lake").toString()));
            List<String> rows = lakeRows(lake);
            assertThat(rows).as(what + ": each answer once in the lake").doesNotHaveDuplicates();
            assertThat(new HashSet<>(rows)).as(what + ": every result in the lake").containsAll(results);
            assertNoStrayDataFiles(lake, what);
        }
    }

    @Test
    void stagesStoppedAtRandomMomentsAndStartedAgainAnswerEveryTaskOnce() throws Exception {
        int port = freePort();
        int registryPort = freePort();
        Process kafka = processes.start(dir, "kafka", "kafka", "--data-dir", dir.resolve("kafka").toString(),
                "--port", Integer.toString(port), "--registry-port", Integer.toString(registryPort));
        // a broker that exits (say a port taken between freePort() and its bind) fails here with its log,
        // not after three minutes without one (seen once in a fresh-clone CI run)
        await().atMost(Duration.ofMinutes(3)).until(() -> {
            String log = MgmProcesses.log(dir, "kafka");
            assertThat(kafka.isAlive()).as("the broker process exited before it was ready:\n" + log).isTrue();
            return log.contains("Ready.");
        });
        String bootstrap = "localhost:" + port;
        String registry = "http://localhost:" + registryPort;
        int count = 1200;
        Path tasks = MgmProcesses.tasksOverScenes(dir, "st-", count);
        Path results = dir.resolve("results.jsonl");
        Process run = processes.start(dir, "run", "run", "--bootstrap-servers", bootstrap, "--schema-registry",
                registry, "--input", tasks.toString(), "--output", results.toString(), "--timeout", "20m");
        String[] stageArgs = {"stage", "all", "--bootstrap-servers", bootstrap, "--schema-registry", registry,
                "--set", "lake.warehouse=" + dir.resolve("lake"), "--set", "sink.commit.interval.ms=2000",
                "--set", "encoders.tokens.store.uri=" + dir.resolve("visual-tokens"),
                "--set", "reasoning.claim.check.roots=" + dir.resolve("visual-tokens"),
                "--set", "generation.images.dir=" + dir.resolve("generated-images"),
                "--set", "reasoning.generate.output=answer", "--set", "stage.batch.max.size=4"};
        for (int i = 0; i < 5; i++) {
            String signal = MgmProcesses.deliverable(i % 2 == 0 ? "TERM" : "INT");
            long delay = random.nextInt(12_000);
            String what = "stage all " + i + ": SIG" + signal + " " + delay + " ms after the start (seed " + seed + ")";
            System.out.println(what + ", " + lines(results) + " results so far");
            Process stages = processes.start(dir, "stages-" + i, stageArgs);
            if (!stages.waitFor(delay, TimeUnit.MILLISECONDS)) {
                MgmProcesses.signal(stages, signal);
            }
            boolean ended = stages.waitFor(3, TimeUnit.MINUTES);
            String log = MgmProcesses.log(dir, "stages-" + i);
            assertThat(ended).as(what + ": ended\n" + log).isTrue();
            assertThat(MgmProcesses.crashReports(dir)).as(what + ": no JVM crash\n" + log).isEmpty();
            if (stages.exitValue() == 128 + (signal.equals("INT") ? 2 : 15)) {
                // Only a signal in the JVM's first moments, before the command could take it, ends it so.
                assertThat(log).as(what + ": stopped before it started\n" + log).doesNotContain("running");
                continue;
            }
            assertThat(stages.exitValue()).as(what + ": a requested stop exits 0\n" + log).isZero();
        }
        Process last = processes.start(dir, "stages-last", stageArgs);
        assertThat(run.waitFor(10, TimeUnit.MINUTES)).as("the run ends once the stages run on").isTrue();
        assertThat(run.exitValue()).as(MgmProcesses.log(dir, "run")).isZero();

        Set<String> ids = resultIds(results);
        assertThat(ids).hasSize(count);
        Map<String, Long> answers = MultiProcessKillTest.answersPerTask(bootstrap);
        assertThat(answers.keySet()).isEqualTo(ids);
        assertThat(answers.values()).as("each task answered once on the topic").containsOnly(1L);
        LakeSettings lake = LakeSettings.from(Map.of("lake.warehouse", dir.resolve("lake").toString()));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> lakeRows(lake).size() >= count);
        MgmProcesses.signal(last, "TERM");
        assertThat(last.waitFor(3, TimeUnit.MINUTES)).isTrue();
        assertThat(last.exitValue()).isZero();
        List<String> rows = lakeRows(lake);
        assertThat(rows).as("each answer once in the lake").hasSize(count);
        assertThat(new HashSet<>(rows)).isEqualTo(ids);
        assertNoStrayDataFiles(lake, "stage all");
        assertThat(MgmProcesses.crashReports(dir)).isEmpty();
    }

    private static long lines(Path file) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        try (Stream<String> l = Files.lines(file)) {
            return l.count();
        }
    }

    private static Set<String> resultIds(Path results) throws IOException {
        Set<String> ids = new HashSet<>();
        if (Files.exists(results)) {
            for (String line : Files.readAllLines(results)) {
                assertThat(ids.add(JSON.readTree(line).get("task_id").asText())).as("one result line per task").isTrue();
            }
        }
        return ids;
    }

    private static List<String> lakeRows(LakeSettings lake) throws IOException {
        List<String> ids = new ArrayList<>();
        if (!Files.exists(Path.of(lake.warehouse(), "mgm", "answers", "metadata"))) {
            return ids;
        }
        try (LakeTable table = LakeTable.open(lake);
             CloseableIterable<Record> it = IcebergGenerics.read(table.table()).build()) {
            it.forEach(r -> ids.add((String) r.getField("task_id")));
        }
        return ids;
    }

    /** A raw Parquet reader of the folder sees exactly what the table holds: no file of a failed write. */
    private static void assertNoStrayDataFiles(LakeSettings lake, String what) throws IOException {
        Path data = Path.of(lake.warehouse(), "mgm", "answers", "data");
        if (!Files.exists(data)) {
            return;
        }
        Set<String> onDisk = new HashSet<>();
        try (Stream<Path> files = Files.walk(data)) {
            files.filter(f -> f.toString().endsWith(".parquet")).forEach(f -> onDisk.add(f.toAbsolutePath().toString()));
        }
        Set<String> inTable = new HashSet<>();
        try (LakeTable table = LakeTable.open(lake);
             CloseableIterable<FileScanTask> tasks = table.table().newScan().planFiles()) {
            tasks.forEach(t -> inTable.add(Path.of(t.file().location().replaceFirst("^file:", "")).toAbsolutePath()
                    .toString()));
        }
        assertThat(onDisk).as(what + ": the data files on disk are the table's").isEqualTo(inTable);
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
