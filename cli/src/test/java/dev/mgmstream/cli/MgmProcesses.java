package dev.mgmstream.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mgmstream.pipeline.stage.TerminationSignals;

/**
 * {@code mgm} commands as processes of their own, for the end-to-end tests that kill or signal them:
 * the test's classpath, the repository's models, output in {@code <dir>/<log>.log}.
 */
final class MgmProcesses implements AutoCloseable {

    private final List<Process> started = new ArrayList<>();

    Process start(Path dir, String log, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx768m",
                "-XX:TieredStopAtLevel=1", "-Dmgm.home=" + Home.dir(), "-Dai.djl.offline=true",
                "-cp", System.getProperty("java.class.path"), Mgm.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(log + ".log").toFile()).directory(dir.toFile());
        pb.environment().put("MGM_LOG_LEVEL", "WARN");
        Process p = pb.start();
        started.add(p);
        return p;
    }

    /** Sends a signal by name (INT, TERM, KILL), as Ctrl-C, Kubernetes or the OOM killer would. */
    static void signal(Process p, String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).inheritIO().start();
        if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new IOException("kill -" + name + " " + p.pid() + " failed");
        }
    }

    /**
     * The signal a test sends for {@code wanted}: SIGTERM in place of SIGINT when this JVM ignores SIGINT
     * (a build started as a background job of a non-interactive shell does), since the processes it starts
     * inherit that and POSIX keeps an ignored SIGINT ignored: no handler of theirs could ever see it.
     */
    static String deliverable(String wanted) {
        if (!wanted.equals("INT") || !TerminationSignals.ignored(2)) {
            return wanted;
        }
        System.out.println("SIGINT is ignored in this build's processes (started in the background?): sending SIGTERM");
        return "TERM";
    }

    /** The JVM's crash reports in a process's working folder: a native crash leaves one. */
    static List<Path> crashReports(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList();
        }
    }

    static String log(Path dir, String log) throws IOException {
        Path f = dir.resolve(log + ".log");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    /** {@code count} tasks cycling over the answer key of the bundled scenes, written to {@code dir/tasks.jsonl}. */
    static Path tasksOverScenes(Path dir, String idPrefix, int count) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path scenes = Home.samples().resolve("scenes");
        List<String> key = Files.readAllLines(scenes.resolve("answers.jsonl"));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            JsonNode k = json.readTree(key.get(i % key.size()));
            ObjectNode t = json.createObjectNode();
            t.put("task_id", idPrefix + i);
            t.put("image", scenes.resolve(k.get("image").asText()).toString());
            t.put("kind", k.get("kind").asText());
            t.put("prompt", k.get("prompt").asText());
            lines.add(json.writeValueAsString(t));
        }
        return Files.write(dir.resolve("tasks.jsonl"), lines);
    }

    @Override
    public void close() {
        started.forEach(Process::destroyForcibly);
    }
}
