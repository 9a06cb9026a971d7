package dev.mgmstream.lake;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Two sink processes committing to one table in a local folder through the default (hadoop) catalog. */
class TwoSinkProcessesTest {

    private static final String TOPIC = "mgm.answers";

    @TempDir
    Path warehouse;

    @TempDir
    Path signals;

    @Test
    void aCommitOfOneProcessIsNeverOverwrittenByAnothers() throws Exception {
        LakeSettings settings = LakeSettings.from(Map.of("lake.warehouse", warehouse.toString()));
        LakeTable.open(settings).close();
        Path log = signals.resolve("other-process.log");
        Process other = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), PausedCommitProcess.class.getName(),
                warehouse.toString(), signals.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(50))
                    .until(() -> Files.exists(signals.resolve(PausedCommitProcess.RENAMING)) || !other.isAlive());
            assertThat(other.isAlive()).as("the other process is in its commit; its log:\n%s", logOf(log)).isTrue();

            // This process commits while the other one is between checking that v2 is free and renaming onto it.
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicReference<AnswerAppender.Outcome> outcome = new AtomicReference<>();
            Thread sink = new Thread(() -> {
                try (LakeTable lake = LakeTable.open(settings)) {
                    outcome.set(new AnswerAppender(lake.table(), TOPIC, "this", 5).append(new AnswerAppender.Batch(
                            LakeFixtures.rows(TOPIC, 0, 0, 10, 1L), Map.of(0, AnswerAppender.NONE), Map.of(0, 10L))));
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            sink.start();
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
                    .until(() -> !sink.isAlive() || waitingForTheCommitLock(sink));
            Files.createFile(signals.resolve(PausedCommitProcess.PROCEED));
            sink.join(TimeUnit.SECONDS.toMillis(60));

            assertThat(other.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(other.exitValue()).as("the other process's commit; its log:\n%s", logOf(log)).isZero();
            assertThat(failure.get()).isNull();
            assertThat(outcome.get().committed()).isTrue();
        } finally {
            other.destroyForcibly();
        }
        try (LakeTable lake = LakeTable.open(settings)) {
            Map<String, Long> perTask = LakeFixtures.readAll(lake.table()).stream()
                    .collect(Collectors.groupingBy(r -> (String) r.getField("task_id"), Collectors.counting()));
            assertThat(perTask).hasSize(15).containsKeys("task-0", "task-9", "task-100", "task-104");
            assertThat(new AnswerAppender(lake.table(), TOPIC, "reader", 1).tableOffsets())
                    .containsExactlyInAnyOrderEntriesOf(Map.of(0, 10L, 1, 105L));
        }
        // Outside the table's folder, where a clean-up of files no snapshot names would delete it
        assertThat(warehouse.resolve("mgm").resolve(".answers.mgm-commit.lock")).exists();
    }

    /** Named, not referenced, so that the test also compiles (and fails) without the lock. */
    private static boolean waitingForTheCommitLock(Thread t) {
        return Arrays.stream(t.getStackTrace()).anyMatch(f -> f.getClassName().endsWith(".LocalFolderLock"));
    }

    private static String logOf(Path log) throws java.io.IOException {
        String text = Files.exists(log) ? Files.readString(log) : "";
        return text.length() > 4000 ? text.substring(text.length() - 4000) : text;
    }
}
