package dev.mgmstream.cli;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import dev.mgmstream.ingest.AnswerCollector;
import dev.mgmstream.ingest.ResultWriter;
import dev.mgmstream.ingest.TaskResult;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.views.ViewsClient;
import dev.mgmstream.views.ViewsConfig;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mgm results}: the second half of {@code run}. */
@Command(name = "results", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Prints the answers on the answers topic as result lines: the second half of 'run'.",
                "",
                "Prints the answers as result lines (the format of 'mgm run'), from the",
                "beginning of the topic (or only new ones with --from-end). Without --follow it stops once it",
                "has read everything there is; with --follow it keeps printing new answers until Ctrl-C.",
                "",
                "With --task ID it asks the views stage (mgm stage views) where that one task stands instead, and",
                "prints its status as one JSON line (state: published, encoded, generated, dead_lettered, answered,",
                "rejected or failed, with the answer or the reason). Exit codes with --task: 0 found, 1 no such",
                "task, 3 the views did not answer."},
        footer = {"", "Examples:",
                "  ./mgm results --bootstrap-servers localhost:9092 --schema-registry http://localhost:8081 --follow",
                "  ./mgm results --task t2 --views-url http://localhost:7070"})
final class ResultsCommand implements Callable<Integer> {

    @Mixin
    Connection connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--follow", description = "Keep waiting for new answers.")
    boolean follow;

    @Option(names = "--from-end", description = "Only answers written from now on.")
    boolean fromEnd;

    @Option(names = "--task", paramLabel = "ID", description = "Only this task's status, from the views stage.")
    String task;

    @Option(names = "--views-url", paramLabel = "URL",
            description = "Any views instance (it asks the one holding the task); or views.url in the configuration "
                    + "(MGM_VIEWS_URL); default http://localhost:7070.")
    String viewsUrl;

    @Mixin
    ConfigOptions options;

    @Override
    public Integer call() throws Exception {
        if (task != null) {
            return taskStatus();
        }
        Map<String, String> config = connection.resolve(options, spec);
        ResultWriter out = ResultWriter.to(System.out);
        CountDownLatch done = new CountDownLatch(1);
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             AnswerCollector answers = new AnswerCollector(config, registry)) {
            if (fromEnd) {
                answers.fromEnd();
            } else {
                answers.fromBeginning();
            }
            Thread hook = new Thread(() -> {
                answers.wakeup();
                try {
                    done.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "mgm-results-stop");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                while (true) {
                    for (Answer a : answers.poll(Duration.ofMillis(500))) {
                        out.write(TaskResult.of(a, null, 0));
                    }
                    if (!follow && answers.caughtUp()) {
                        break;
                    }
                }
            } catch (WakeupException stopping) {
                // Ctrl-C
            } finally {
                done.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running
                }
            }
        }
        return 0;
    }

    /** Needs no broker: the views stage holds the status. */
    private int taskStatus() throws InterruptedException {
        Map<String, String> config = options.resolve(Map.of());
        String url = viewsUrl != null ? viewsUrl : config.getOrDefault(ViewsConfig.URL.name(), ViewsConfig.URL.defaultValue());
        ViewsClient.Reply reply;
        try {
            reply = new ViewsClient(Duration.ofSeconds(10)).get(url, ViewsClient.taskPath(task));
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("mgm results: the views at " + url + " did not answer (" + e.getMessage()
                    + "); is 'mgm stage views' running there?");
            return 3;
        }
        if (reply.status() == 200) {
            System.out.println(reply.body().strip());
            return 0;
        }
        System.err.println("mgm results: " + (reply.status() == 404 ? "" : "HTTP " + reply.status() + ": ")
                + reply.body().strip());
        return reply.status() == 404 ? 1 : 3;
    }
}
