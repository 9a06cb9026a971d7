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
import dev.mgmstream.lake.LakeSettings;
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
                "and writes results.jsonl and the lake table, both replaced on every demo (like the answers",
                "table, they show this run; 'mgm run' appends to its lake). Generation tasks end with the prompt the model",
                "wrote for the image generator and, when a generator is bundled (models/mgm-gen-tiny), the",
                "generated image under generated-images/.",
                "",
                "The results browser, at http://localhost:7070/ (or the port printed, when 7070 is taken),",
                "shows the run as it happens: the images with their questions and answers, the generated",
                "images, rejections with their reasons, throughput and latency. On a terminal the demo keeps",
                "serving it after the run until Ctrl-C; without one, or with CI set, it ends when the run does",
                "(--serve / --no-serve decide instead)."},
        footer = {"", "Example:", "  ./mgm demo", "  ./mgm demo --no-serve --output /tmp/demo/results.jsonl --lake /tmp/demo/lake"})
final class DemoCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--samples", paramLabel = "DIR", description = "Folder with demo.jsonl and its images "
            + "(default: the repository's samples/).")
    Path samples;

    @Option(names = "--output", paramLabel = "RESULTS.jsonl", defaultValue = "results.jsonl",
            description = "Where results go (default: ${DEFAULT-VALUE}).")
    Path output;

    @Option(names = "--lake", paramLabel = "DIR", defaultValue = "lake",
            description = "Lake warehouse folder; the demo's table in it is replaced (default: ${DEFAULT-VALUE}).")
    Path lake;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "4m", converter = Keys.DurationConverter.class,
            description = "Give up waiting for answers after this long (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--serve", negatable = true, description = "Keep serving the results browser after the run "
            + "until Ctrl-C (default: on a terminal, unless CI is set).")
    Boolean serve;

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
        replaceDemoTable(config, out);

        long started = System.nanoTime();
        out.println("Mini-Gemini Stream demo: starting an in-process Kafka broker, the schema registry and the");
        out.println("encoders, reasoning and sink stages with the bundled model " + Home.model() + " ...");
        Path work = Files.createTempDirectory("mgm-demo-");
        RunCommand run = new RunCommand();
        run.input = tasks;
        run.output = output;
        run.timeout = timeout;
        try (TerminationSignals signals = TerminationSignals.onSignal("demo", run::stop)) {
            return runDemo(config, work, run, out, started, tasks);
        } finally {
            deleteQuietly(work);
        }
    }

    /**
     * Whether to keep serving after the run: as asked, else only where someone is watching (a terminal, and not
     * CI), so that a script or a CI job never waits for a Ctrl-C nobody will send.
     */
    boolean serving() {
        if (serve != null) {
            return serve;
        }
        String ci = System.getenv("CI");
        boolean inCi = ci != null && !ci.isBlank() && !ci.equalsIgnoreCase("false") && !ci.equals("0");
        return System.console() != null && !inCi;
    }

    /**
     * A second demo would otherwise add its 62 rows to the first one's table while results.jsonl shows only
     * the second: the demo's table starts afresh, as its results file does. Only a table the demo keeps as
     * plain files (the hadoop catalog over a local folder) is removed; any other catalog is left alone.
     */
    private static void replaceDemoTable(Map<String, String> config, PrintStream out) {
        LakeSettings lake = LakeSettings.from(config);
        if (!lake.catalogType().equals("hadoop") || lake.warehouse().contains(":")) {
            return;
        }
        Path table = Path.of(lake.warehouse()).resolve(Path.of("", lake.table().namespace().levels()))
                .resolve(lake.table().name());
        if (Files.isDirectory(table)) {
            out.println("Replacing the lake table of the previous demo at " + table);
            deleteQuietly(table);
        }
    }

    /** Runs the demo and reports it; the pipeline stays up while the results browser is served. */
    private int runDemo(Map<String, String> config, Path work, RunCommand run, PrintStream out, long started,
                        Path tasks) throws Exception {
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(config, work, ImageFolders.of(run.input),
                new SimpleMeterRegistry())) {
            out.printf("Pipeline up in %.1f s (Kafka at %s, schema registry at %s).%n",
                    (System.nanoTime() - started) / 1e9, pipeline.bootstrapServers(), pipeline.registryUrl());
            out.println("Watch it in the results browser: " + pipeline.viewsUrl());
            out.println("Publishing " + run.input.getFileName() + " ...");
            BulkRun.Summary summary = run.bulk(pipeline.config(), System.err);
            pipeline.awaitLake(Duration.ofSeconds(summary.missing().isEmpty() ? 60 : 5));
            int code = report(out, tasks, summary, LakeLocation.describe(config), started);
            if (serving()) {
                out.println();
                run.serveUntilStopped(pipeline, out);
            } else {
                out.println("The results browser was at " + pipeline.viewsUrl() + " while the demo ran; "
                        + "./mgm demo --serve keeps it up after the run.");
            }
            return code;
        }
    }

    private int report(PrintStream out, Path tasks, BulkRun.Summary summary, String lakeTable, long started)
            throws IOException {
        out.println();
        int[] correct = printTable(out, TaskFile.read(tasks), output);
        out.println();
        out.printf("%d tasks answered in %.1f s from the first publish (%.1f s with the pipeline's start): %s%n",
                summary.results(), summary.elapsed().toMillis() / 1000.0, (System.nanoTime() - started) / 1e9,
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
        int width = terminalColumns();
        int rest = Math.max(40, width - (20 + 1 + 8 + 1 + 1 + 1 + 3));
        int promptWidth = rest * 45 / 100;
        int answerWidth = rest - promptWidth;
        String format = "%-20s %-8s %-" + promptWidth + "s %-" + answerWidth + "s %s%n";
        out.printf(format, "image", "kind", "prompt", "answer", "ok?");
        out.printf(format, "-".repeat(20), "-".repeat(8), "-".repeat(promptWidth), "-".repeat(answerWidth), "---");
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
            } else if (!r.path("generation_prompt").asText().isEmpty()) {
                // the model's reply is this prompt between <h> and </h>; the tags are for the generator, not a reader
                shown = "prompt for the generator: " + r.path("generation_prompt").asText();
            } else {
                shown = r.path("answer").asText();
            }
            List<String> lines = wrap(shown, answerWidth);
            if (lines.size() > 3) {
                lines = new java.util.ArrayList<>(lines.subList(0, 3));
                lines.set(2, clip(lines.get(2) + " ...", answerWidth));
            }
            if (expected != null) {
                graded++;
                boolean ok = r != null && expected.trim().equals(r.path("answer").asText().trim());
                right += ok ? 1 : 0;
                mark = ok ? "yes" : "no";
                if (!ok) {
                    lines.add(clip("expected: " + expected, answerWidth));
                }
            }
            if (r != null && !r.path("generated_image").asText().isEmpty()) {
                String uri = r.path("generated_image").asText();
                lines.add(clip("image: generated-images/" + uri.substring(uri.lastIndexOf('/') + 1), answerWidth));
            }
            out.printf(format, clip(Path.of(t.image()).getFileName().toString(), 20), TaskFile.kindName(t.kind()),
                    clip(t.prompt(), promptWidth), lines.get(0), mark);
            for (String more : lines.subList(1, lines.size())) {
                out.printf(format, "", "", "", more, "");
            }
        }
        return new int[] {right, graded};
    }

    /**
     * The terminal's width: $COLUMNS when the shell exports it, else what stty says of the terminal, else 120
     * (a log or a pipe).
     */
    static int terminalColumns() {
        String env = System.getenv("COLUMNS");
        if (env != null && env.trim().matches("\\d+")) {
            return Integer.parseInt(env.trim());
        }
        if (System.console() != null) {
            try {
                Process stty = new ProcessBuilder("stty", "size").redirectInput(ProcessBuilder.Redirect.from(
                        new java.io.File("/dev/tty"))).redirectErrorStream(true).start();
                String[] size = new String(stty.getInputStream().readAllBytes()).trim().split("\\s+");
                if (stty.waitFor() == 0 && size.length == 2 && size[1].matches("\\d+")) {
                    return Integer.parseInt(size[1]);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException e) {
                // no terminal to ask
            }
        }
        return 120;
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
