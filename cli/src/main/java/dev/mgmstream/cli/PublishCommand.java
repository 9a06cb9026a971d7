package dev.mgmstream.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

import dev.mgmstream.ingest.BulkRun;
import dev.mgmstream.ingest.TaskFile;
import dev.mgmstream.ingest.TaskPublisher;
import dev.mgmstream.ingest.TaskSpec;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mgm publish}: the first half of {@code run}. */
@Command(name = "publish", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Publishes the tasks of a task file: the first half of 'run'.",
                "",
                "Publishes the tasks of a task file (the format of 'mgm run') to the image-tasks topic and",
                "prints one line per task, {\"task_id\": ..., \"line\": N}, so answers can be matched later",
                "('mgm results'). Malformed lines and unreadable images are reported on stderr.",
                "Exit code: 0 all published; 2 some lines or images were refused; 64 the command line did not parse."},
        footer = {"", "Example:",
                "  ./mgm publish --bootstrap-servers localhost:9092 --schema-registry http://localhost:8081 --input tasks.jsonl"})
final class PublishCommand implements Callable<Integer> {

    @Mixin
    Connection connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--input", paramLabel = "TASKS.jsonl", required = true, description = "The task file.")
    Path input;

    @Mixin
    ConfigOptions options;

    @Override
    public Integer call() throws IOException {
        Map<String, String> config = connection.resolve(options, spec);
        TaskFile.Contents contents = TaskFile.read(input);
        contents.errors().forEach(e -> System.err.println("skipped " + e));
        int refused = contents.errors().size();
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             TaskPublisher publisher = new TaskPublisher(config, registry)) {
            for (TaskSpec spec : contents.tasks()) {
                ImageTask task;
                try {
                    task = publisher.prepare(spec, contents.folder());
                } catch (IOException e) {
                    System.err.println("skipped line " + spec.line() + ": " + e.getMessage());
                    refused++;
                    continue;
                }
                sends.add(publisher.send(task).thenRun(() -> System.out.println(
                        "{\"task_id\":\"" + spec.taskId().replace("\\", "\\\\").replace("\"", "\\\"")
                                + "\",\"line\":" + spec.line() + "}")));
            }
            publisher.flush();
        }
        CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new)).join();
        System.err.println("published " + sends.size() + " tasks" + (refused > 0 ? ", refused " + refused : ""));
        return refused > 0 ? BulkRun.EXIT_MALFORMED : 0;
    }
}
