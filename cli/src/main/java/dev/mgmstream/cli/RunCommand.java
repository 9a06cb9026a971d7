package dev.mgmstream.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import dev.mgmstream.ingest.BulkRun;
import dev.mgmstream.pipeline.stage.TerminationSignals;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mgm run}: the bulk job. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Runs every task of a task file through the pipeline and writes one result per task.",
                "",
                "Input: one JSON object per line,",
                "  {\"task_id\": \"optional\", \"image\": \"path or URI\", \"kind\": \"caption\" | \"vqa\" | \"generate\", \"prompt\": \"...\"}",
                "  optionally with \"attributes\": {...} (kept with the answer and in the lake) and",
                "  \"options\": {\"max_new_tokens\", \"temperature\", \"top_p\", \"seed\"}.",
                "  vqa and generate need a prompt; a caption's defaults to 'Describe the image.'.",
                "  Relative paths resolve against the task file's folder. A malformed line is reported with",
                "  its number (and written as a rejected result); the other lines go on.",
                "Output: one JSON object per task, written as it arrives: task_id, image, image_id, kind, prompt,",
                "  status (ok | rejected | failed), answer, generation_prompt, generated_image, reason, latency_ms.",
                "",
                "With --embedded, the broker, the schema registry and all stages run inside this process, and",
                "answers also go to the lake table (--lake). Otherwise mgm only publishes and collects: the",
                "stages run elsewhere ('mgm kafka', 'mgm stage ...').",
                "",
                "With --embedded, the results browser (the views stage's page: a gallery of the tasks, filters,",
                "rejections with their reasons, throughput and latency) is at http://localhost:7070/ (or the",
                "port printed, when 7070 is taken) while the run lasts; --serve keeps it, and the pipeline,",
                "up after the run until Ctrl-C.",
                "",
                "Exit code: 0 every task has its result; 1 some have none (timeout or Ctrl-C, listed);",
                "2 every task has its result but some lines were malformed; 3 the run could not start;",
                "64 the command line did not parse."},
        footer = {"", "Examples:",
                "  ./mgm run --embedded --input samples/demo.jsonl --output results.jsonl",
                "  ./mgm run --bootstrap-servers localhost:9092 --schema-registry http://localhost:8081 \\",
                "      --input tasks.jsonl --output results.jsonl --timeout 30m"})
final class RunCommand implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    static final class Target {
        @Option(names = "--embedded", required = true,
                description = "Start broker, registry and all stages in this process.")
        boolean embedded;

        @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", required = true,
                description = "Use a running deployment at these brokers.")
        String bootstrapServers;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    @Option(names = "--schema-registry", paramLabel = "URL", defaultValue = "http://localhost:8081",
            description = "Schema registry of a running deployment (default: ${DEFAULT-VALUE}).")
    String schemaRegistry;

    @Option(names = "--input", paramLabel = "TASKS.jsonl", required = true, description = "The task file.")
    Path input;

    @Option(names = "--output", paramLabel = "RESULTS.jsonl", required = true,
            description = "Where results go (replaced).")
    Path output;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", converter = Keys.DurationConverter.class,
            description = "Give up waiting for answers after this long, e.g. 90s, 10m (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--lake", paramLabel = "DIR", defaultValue = "lake",
            description = "With --embedded: the lake warehouse folder (default: ${DEFAULT-VALUE}).")
    Path lake;

    @Option(names = "--serve", description = "With --embedded: after the run, keep serving the results browser "
            + "until Ctrl-C (the exit code is still the run's).")
    boolean serve;

    @Mixin
    ConfigOptions options;

    private volatile boolean interrupted;
    private final CountDownLatch stopAsked = new CountDownLatch(1);

    /** The run under way, for a signal to stop; null until publishing starts. */
    private volatile BulkRun current;

    @Override
    public Integer call() throws Exception {
        // Installed before the pipeline starts: Ctrl-C while models load must not start the JVM's shutdown
        // (TerminationSignals says why); the run then stops as soon as it begins, every task listed as missing.
        try (TerminationSignals signals = TerminationSignals.onSignal("run", this::stop)) {
            return execute();
        }
    }

    /** Asks the run to stop; safe from a signal handler's thread, before or during the run. */
    void stop() {
        interrupted = true;
        stopAsked.countDown();
        BulkRun run = current;
        if (run != null) {
            run.stop();
        }
    }

    private Integer execute() throws Exception {
        if (serve && !target.embedded) {
            System.err.println("mgm run: --serve needs --embedded (a deployment's views serve the page: mgm stage views)");
            return 64;
        }
        if (!Files.isRegularFile(input)) {
            System.err.println("mgm run: no task file " + input.toAbsolutePath());
            return 3;
        }
        Map<String, String> overrides = new HashMap<>();
        if (target.embedded) {
            overrides.put("lake.warehouse", lake.toAbsolutePath().toString());
            if (!options.values.containsKey("generation.images.dir")) {
                // generated images land beside the results that name them
                overrides.put("generation.images.dir",
                        output.toAbsolutePath().getParent().resolve("generated-images").toString());
            }
        } else {
            overrides.put("bootstrap.servers", target.bootstrapServers);
            overrides.put("schema.registry.url", schemaRegistry);
        }
        Map<String, String> config = options.resolve(overrides);
        if (!target.embedded) {
            return bulk(config, System.err).exitCode();
        }
        Path work = Files.createTempDirectory("mgm-run-");
        List<Path> folders = ImageFolders.of(input);
        System.err.println("Starting the embedded pipeline (broker, schema registry, encoders, reasoning, "
                + (ConfigOptions.generatorPresent(config) ? "generation, " : "") + "sink)...");
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(Keys.withBundledModel(config), work, folders,
                meters)) {
            System.err.println("Results browser: " + pipeline.viewsUrl() + (serve ? "" : " (while the run lasts)"));
            BulkRun.Summary summary = bulk(pipeline.config(), System.err);
            // Also after Ctrl-C: the broker goes with this process, so an answer not in the lake now never will be.
            if (!pipeline.awaitLake(Duration.ofSeconds(60))) {
                System.err.println("mgm run: the lake sink had not caught up after 60 s; it resumes where it was on the next run");
            }
            System.err.println("Lake table: " + LakeLocation.describe(pipeline.config()));
            log.info(TimeReport.of(meters));
            if (serve) {
                serveUntilStopped(pipeline, System.err);
            }
            return summary.exitCode();
        } finally {
            DemoCommand.deleteQuietly(work);
        }
    }

    /**
     * Keeps the pipeline, and so the results browser, up until Ctrl-C or SIGTERM; returns at once if one came
     * during the run.
     */
    void serveUntilStopped(EmbeddedPipeline pipeline, PrintStream out) throws InterruptedException {
        if (interrupted) {
            return;
        }
        out.println("Results browser: " + pipeline.viewsUrl() + " (serving until Ctrl-C)");
        stopAsked.await();
    }

    /** Runs the task file against {@code config}'s deployment, with progress, Ctrl-C handling and a summary. */
    BulkRun.Summary bulk(Map<String, String> config, PrintStream err) throws Exception {
        Progress progress = Progress.forStderr();
        BulkRun run = new BulkRun(config, progress);
        BulkRun.Summary summary;
        current = run;
        if (interrupted) {
            run.stop();
        }
        try {
            summary = run.run(input, output, timeout);
        } finally {
            current = null;
            progress.finish();
        }
        report(summary, output, err);
        return summary;
    }

    static void report(BulkRun.Summary s, Path output, PrintStream err) {
        err.printf("%d tasks, %d results in %.1f s %s -> %s%n", s.tasks(), s.results(), s.elapsed().toMillis() / 1000.0,
                s.byStatus(), output.toAbsolutePath());
        if (s.malformed() > 0) {
            err.println(s.malformed() + " malformed line(s) skipped, each written as a rejected result");
        }
        if (!s.missing().isEmpty()) {
            err.println(s.missing().size() + " task(s) have no result: " + String.join(", ",
                    s.missing().subList(0, Math.min(20, s.missing().size()))) + (s.missing().size() > 20 ? ", ..." : ""));
        }
    }
}
