package dev.mgmstream.cli;

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
                "has read everything there is; with --follow it keeps printing new answers until Ctrl-C."},
        footer = {"", "Example:",
                "  ./mgm results --bootstrap-servers localhost:9092 --schema-registry http://localhost:8081 --follow"})
final class ResultsCommand implements Callable<Integer> {

    @Mixin
    Connection connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--follow", description = "Keep waiting for new answers.")
    boolean follow;

    @Option(names = "--from-end", description = "Only answers written from now on.")
    boolean fromEnd;

    @Mixin
    ConfigOptions options;

    @Override
    public Integer call() throws Exception {
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
}
