package dev.mgmstream.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.ingest.BulkRun;
import dev.mgmstream.ingest.TaskFile;
import dev.mgmstream.ingest.TaskSpec;
import dev.mgmstream.pipeline.stage.TerminationSignals;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mgm demo}: the whole pipeline in one process over the bundled samples. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Runs the whole pipeline in this process on the bundled samples and shows the answers.",
                "",
                "Starts an in-process Kafka broker and schema registry, the encoders, reasoning and sink",
                "stages with the bundled model (mgm-tiny), publishes the samples (a dozen scenes from the",
                "synthetic world and two ordinary pictures) as caption, VQA and generation tasks, shows",
                "progress, prints a table of the answers (with the expected answer for synthetic scenes),",
                "and writes results.jsonl and the lake table. Generation tasks end with the prompt the model",
                "wrote for the image generator and, when a generator is bundled (models/mgm-gen-tiny), the",
                "generated image under generated-images/."},
        footer = {"", "Example:", "  ./mgm demo", "  ./mgm demo --output /tmp/demo/results.jsonl --lake /tmp/demo/lake"})
final class DemoCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--samples", paramLabel = "DIR", description = "Folder with demo.jsonl and its images "
            + "(default: the repository's samples/).")
    Path samples;

    @Option(names = "--output", paramLabel = "RESULTS.jsonl", defaultValue = "results.jsonl",
            description = "Where results go (default: ${DEFAULT-VALUE}).")
    Path output;

    @Option(names = "--lake", paramLabel = "DIR", defaultValue = "lake",
            description = "Lake warehouse folder (default: ${DEFAULT-VALUE}).")
    Path lake;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "4m", converter = Keys.DurationConverter.class,
            description = "Give up waiting for answers after this long (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Mixin
    ConfigOptions options;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Path folder = samples != null ? samples : Home.samples();
        Path tasks = folder.resolve("demo.jsonl");
        if (!Files.isRegularFile(tasks)) {
            System.err.println("mgm demo: no " + tasks + " (run from the repository or pass --samples)");
            return 3;
        }
        Home.requireModel();
        Map<String, String> overrides = new HashMap<>();
        overrides.put("lake.warehouse", lake.toAbsolutePath().toString());
        Map<String, String> config = Keys.withBundledModel(options.resolve(overrides));

        long started = System.nanoTime();
        out.println("Mini-Gemini Stream demo: starting an in-process Kafka broker, the schema registry and the");
        out.println("encoders, reasoning and sink stages with the bundled model " + Home.model() + " ...");
        Path work = Files.createTempDirectory("mgm-demo-");
        RunCommand run = new RunCommand();
        run.input = tasks;
        run.output = output;
        run.timeout = timeout;
        BulkRun.Summary summary;
        String lakeTable;
        try (TerminationSignals signals = TerminationSignals.onSignal("demo", run::stop)) {
            summary = runDemo(config, work, run, out, started);
            lakeTable = LakeLocation.describe(config);
        } finally {
            deleteQuietly(work);
        }
        return report(out, tasks, summary, lakeTable, started);
    }

    private BulkRun.Summary runDemo(Map<String, String> config, Path work, RunCommand run,
                                    PrintStream out, long started) throws Exception {
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(config, work, ImageFolders.of(run.input),
                new SimpleMeterRegistry())) {
            out.printf("Pipeline up in %.1f s (Kafka at %s, schema registry at %s).%n",
                    (System.nanoTime() - started) / 1e9, pipeline.bootstrapServers(), pipeline.registryUrl());
            out.println("Publishing " + run.input.getFileName() + " ...");
            BulkRun.Summary summary = run.bulk(pipeline.config(), System.err);
            pipeline.awaitLake(Duration.ofSeconds(summary.missing().isEmpty() ? 60 : 5));
            return summary;
        }
    }

    private int report(PrintStream out, Path tasks, BulkRun.Summary summary, String lakeTable, long started)
            throws IOException {
        out.println();
        int[] correct = printTable(out, TaskFile.read(tasks), output);
        out.println();
        out.printf("%d tasks answered in %.1f s: %s%n", summary.results(), (System.nanoTime() - started) / 1e9,
                summary.byStatus());
        if (correct[1] > 0) {
            out.printf("Synthetic scenes: %d of %d answers exactly as expected.%n", correct[0], correct[1]);
        }
        out.println("Results:    " + output.toAbsolutePath());
        out.println("Lake table: " + lakeTable);
        out.println("Query it with DuckDB, Spark or Trino: see README.md, 'The data lake'.");
        return summary.exitCode();
    }

    /** Prints image, kind, prompt, answer and whether it matches; returns {correct, with an expected answer}. */
    static int[] printTable(PrintStream out, TaskFile.Contents tasks, Path results) throws IOException {
        Map<String, TaskSpec> byId = new LinkedHashMap<>();
        tasks.tasks().forEach(t -> byId.put(t.taskId(), t));
        Map<String, JsonNode> answers = new HashMap<>();
        for (String line : Files.readAllLines(results)) {
            if (!line.isBlank()) {
                JsonNode n = JSON.readTree(line);
                answers.put(n.get("task_id").asText(), n);
            }
        }
        String format = "%-20s %-8s %-42s %-44s %s%n";
        out.printf(format, "image", "kind", "prompt", "answer", "ok?");
        out.printf(format, "-".repeat(20), "-".repeat(8), "-".repeat(42), "-".repeat(44), "---");
        int right = 0;
        int graded = 0;
        for (TaskSpec t : byId.values()) {
            JsonNode r = answers.get(t.taskId());
            String expected = t.attributes().get("expected");
            String shown;
            String mark = "";
            if (r == null) {
                shown = "(no answer)";
            } else if (!"ok".equals(r.path("status").asText())) {
                shown = r.path("status").asText() + ": " + r.path("reason").asText();
            } else {
                shown = r.path("answer").asText();
            }
            if (expected != null) {
                graded++;
                boolean ok = r != null && expected.trim().equals(r.path("answer").asText().trim());
                right += ok ? 1 : 0;
                mark = ok ? "yes" : "no, expected " + clip(expected, 60);
            }
            List<String> lines = wrap(shown, 44);
            if (lines.size() > 3) {
                lines = new java.util.ArrayList<>(lines.subList(0, 3));
                lines.set(2, clip(lines.get(2) + " ...", 44));
            }
            if (r != null && !r.path("generated_image").asText().isEmpty()) {
                String uri = r.path("generated_image").asText();
                lines.add(clip("image: generated-images/" + uri.substring(uri.lastIndexOf('/') + 1), 44));
            }
            out.printf(format, clip(Path.of(t.image()).getFileName().toString(), 20), TaskFile.kindName(t.kind()),
                    clip(t.prompt(), 42), lines.get(0), mark);
            for (String more : lines.subList(1, lines.size())) {
                out.printf(format, "", "", "", more, "");
            }
        }
        return new int[] {right, graded};
    }

    /** Breaks text at spaces into lines of at most {@code width} characters (longer words are cut). */
    static List<String> wrap(String text, int width) {
        List<String> lines = new java.util.ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.split(" ")) {
            while (word.length() > width) {
                if (line.length() > 0) {
                    lines.add(line.toString());
                    line.setLength(0);
                }
                lines.add(word.substring(0, width));
                word = word.substring(width);
            }
            if (line.length() > 0 && line.length() + 1 + word.length() > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            line.append(line.length() > 0 ? " " : "").append(word);
        }
        lines.add(line.toString());
        return lines;
    }

    private static String clip(String s, int width) {
        return s.length() <= width ? s : s.substring(0, width - 3) + "...";
    }

    static void deleteQuietly(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder; the OS cleans it eventually
        }
    }
}
