package dev.mgmstream.ingest;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import org.apache.kafka.common.errors.WakeupException;

/**
 * The bulk job behind {@code mgm run}: reads a task file, publishes its tasks, and writes one result
 * per task to the result file as the answers arrive, until every task has one or the timeout passes.
 * The stages run elsewhere (or in the same process, in embedded mode); this needs only the brokers
 * and the schema registry.
 *
 * <p>Exit codes, from {@link Summary#exitCode()}: 0 every task has its result; 1 some have none (the
 * timeout passed, or the run was interrupted); 2 every task has its result but some lines of the task
 * file were not tasks (each also written as a {@code rejected} result naming its line).
 */
public final class BulkRun {

    public static final int EXIT_OK = 0;
    public static final int EXIT_MISSING = 1;
    public static final int EXIT_MALFORMED = 2;

    /** What a run reports as it goes, for a progress display. */
    public interface Listener {
        Listener NONE = new Listener() {
        };

        default void malformed(TaskFile.LineError error) {
        }

        default void published(int published, int total) {
        }

        default void result(TaskResult result, int done, int total) {
        }
    }

    /**
     * @param missing task ids without a result, in task file order
     */
    public record Summary(int tasks, int malformed, Map<String, Integer> byStatus, List<String> missing,
                          Duration elapsed) {
        public int exitCode() {
            if (!missing.isEmpty()) {
                return EXIT_MISSING;
            }
            return malformed > 0 ? EXIT_MALFORMED : EXIT_OK;
        }

        public int results() {
            return byStatus.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private final Map<String, String> config;
    private final Listener listener;
    private volatile boolean stopRequested;
    private volatile AnswerCollector collector;

    public BulkRun(Map<String, String> config, Listener listener) {
        this.config = Map.copyOf(config);
        this.listener = listener;
    }

    /** Ends a running {@link #run} early (from another thread, e.g. on Ctrl-C); it returns what it has. */
    public void stop() {
        stopRequested = true;
        AnswerCollector c = collector;
        if (c != null) {
            c.wakeup();
        }
    }

    public Summary run(Path input, Path output, Duration timeout) throws IOException {
        long started = System.nanoTime();
        TaskFile.Contents contents = TaskFile.read(input);
        Map<String, Integer> byStatus = new TreeMap<>();
        Map<String, TaskSpec> pending = new LinkedHashMap<>();
        Map<String, Long> sentAt = new HashMap<>();
        contents.tasks().forEach(t -> pending.put(t.taskId(), t));
        int total = contents.tasks().size();
        int[] done = {0};

        try (ResultWriter results = ResultWriter.create(output);
             SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             AnswerCollector answers = new AnswerCollector(config, registry).fromEnd();
             TaskPublisher publisher = new TaskPublisher(config, registry)) {
            collector = answers;
            for (TaskFile.LineError e : contents.errors()) {
                listener.malformed(e);
                results.write(TaskResult.refused(e.resultId(), null,
                        "line " + e.line() + " of " + input.getFileName() + ": " + e.message()));
            }
            List<CompletableFuture<Void>> sends = new ArrayList<>();
            int published = 0;
            for (TaskSpec spec : contents.tasks()) {
                if (stopRequested) {
                    break;
                }
                ImageTask task;
                try {
                    task = publisher.prepare(spec, contents.folder());
                } catch (IOException | RuntimeException e) {
                    pending.remove(spec.taskId());
                    record(results, TaskResult.refused(spec.taskId(), spec, e.getMessage()), byStatus, done, total);
                    continue;
                }
                sentAt.put(spec.taskId(), System.nanoTime());
                sends.add(publisher.send(task).whenComplete((ok, error) -> {
                    if (error != null) {
                        synchronized (pending) {
                            if (pending.remove(spec.taskId()) != null) {
                                record(results, new TaskResult(spec.taskId(), spec.image(), null,
                                        TaskFile.kindName(spec.kind()), spec.prompt(), TaskResult.FAILED, null, null,
                                        null, "could not publish the task: " + error.getMessage(), null, null),
                                        byStatus, done, total);
                            }
                        }
                    }
                }));
                listener.published(++published, total);
            }
            publisher.flush();
            CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new)).exceptionally(e -> null).join();

            long deadline = System.nanoTime() + timeout.toNanos();
            while (!stopRequested && System.nanoTime() < deadline) {
                synchronized (pending) {
                    if (pending.isEmpty()) {
                        break;
                    }
                }
                List<Answer> batch;
                try {
                    batch = answers.poll(Duration.ofMillis(200));
                } catch (WakeupException woken) {
                    break;
                }
                for (Answer a : batch) {
                    TaskSpec spec;
                    synchronized (pending) {
                        spec = pending.remove(a.getTaskId());
                    }
                    if (spec != null) {
                        long ms = (System.nanoTime() - sentAt.getOrDefault(a.getTaskId(), started)) / 1_000_000;
                        record(results, TaskResult.of(a, spec.image(), ms), byStatus, done, total);
                    }
                }
            }
        } finally {
            collector = null;
        }
        List<String> missing;
        synchronized (pending) {
            missing = List.copyOf(pending.keySet());
        }
        return new Summary(total, contents.errors().size(), byStatus, missing,
                Duration.ofNanos(System.nanoTime() - started));
    }

    private void record(ResultWriter results, TaskResult r, Map<String, Integer> byStatus, int[] done, int total) {
        synchronized (byStatus) {
            results.write(r);
            byStatus.merge(r.status(), 1, Integer::sum);
            done[0]++;
            listener.result(r, done[0], total);
        }
    }
}
