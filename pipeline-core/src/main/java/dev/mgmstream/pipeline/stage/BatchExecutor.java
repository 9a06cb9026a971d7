package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a {@link BatchFunction} over a batch so that one bad input cannot sink the others.
 *
 * <ul>
 *   <li>A {@link TransientBatchException}, or any failure {@link InfrastructureErrors} calls transient, retries the same inputs with exponential backoff; when
 *   the retries run out it is thrown on, and the runtime reads the batch again later rather than
 *   dead-lettering good inputs because a device was briefly unavailable.</li>
 *   <li>Any other exception splits the batch in halves and runs each, down to single inputs; an
 *   input that fails alone is the poison one and gets a {@link Failure}.</li>
 *   <li>A {@link Reject} from the function is a {@link Failure} for that input only.</li>
 * </ul>
 * Runs on the stage's worker thread; it blocks only in backoff sleeps.
 */
final class BatchExecutor<K, V> {

    /** Why an input failed and how many calls included it. */
    record Failure(Throwable reason, int attempts) {
    }

    /** Outputs and failures per input index; inputs with neither were consumed without output. */
    record Result(Map<Integer, List<Output<?, ?>>> outputs, Map<Integer, Failure> failures, int calls) {
    }

    /** Backoff waits go through this so tests need not wait. */
    @FunctionalInterface
    interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    private final BatchFunction<K, V> function;
    private final int retries;
    private final Duration backoff;
    private final Duration maxBackoff;
    private final Sleeper sleeper;

    BatchExecutor(BatchFunction<K, V> function, int retries, Duration backoff, Duration maxBackoff, Sleeper sleeper) {
        this.function = function;
        this.retries = retries;
        this.backoff = backoff;
        this.maxBackoff = maxBackoff;
        this.sleeper = sleeper;
    }

    Result run(List<InputRecord<K, V>> batch) throws TransientBatchException, InterruptedException {
        Map<Integer, List<Output<?, ?>>> outputs = new HashMap<>();
        Map<Integer, Failure> failures = new HashMap<>();
        int[] calls = {0};
        if (!batch.isEmpty()) {
            execute(batch, 0, outputs, failures, calls);
        }
        return new Result(outputs, failures, calls[0]);
    }

    private void execute(List<InputRecord<K, V>> inputs, int priorAttempts, Map<Integer, List<Output<?, ?>>> outputs,
                         Map<Integer, Failure> failures, int[] calls) throws TransientBatchException, InterruptedException {
        int attempts = 0;
        Exception failure;
        while (true) {
            attempts++;
            calls[0]++;
            try {
                List<Emitted> emitted = function.apply(List.copyOf(inputs));
                collect(inputs, emitted, priorAttempts + attempts, outputs, failures);
                return;
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                if (!InfrastructureErrors.isTransient(e)) {
                    failure = e;
                    break;
                }
                // A store or registry that did not answer says nothing about these inputs: never split or reject.
                if (attempts > retries) {
                    throw InfrastructureErrors.asTransient("batch failed " + attempts + " times", e);
                }
                sleeper.sleep(backoffFor(attempts));
            }
        }
        int tried = priorAttempts + attempts;
        if (inputs.size() == 1) {
            failures.put(inputs.get(0).index(), new Failure(failure, tried));
            return;
        }
        int half = inputs.size() / 2;
        execute(inputs.subList(0, half), tried, outputs, failures, calls);
        execute(inputs.subList(half, inputs.size()), tried, outputs, failures, calls);
    }

    private static <K, V> void collect(List<InputRecord<K, V>> inputs, List<Emitted> emitted, int attempts,
                                       Map<Integer, List<Output<?, ?>>> outputs, Map<Integer, Failure> failures) {
        Set<Integer> known = new HashSet<>();
        inputs.forEach(in -> known.add(in.index()));
        for (Emitted e : emitted) {
            List<Integer> sources = e instanceof Output<?, ?> o ? o.sources() : List.of(e.source());
            for (int source : sources) {
                if (!known.contains(source)) {
                    // A function that names inputs it was not given is broken; failing the call lets the
                    // split isolate it instead of committing outputs under the wrong offsets.
                    throw new IllegalStateException("Batch function emitted for input " + source
                            + " which is not in the batch it was given");
                }
            }
        }
        Map<Integer, List<Output<?, ?>>> mine = new HashMap<>();
        Map<Integer, Failure> rejected = new HashMap<>();
        for (Emitted e : emitted) {
            if (e instanceof Reject r) {
                rejected.putIfAbsent(r.source(), new Failure(r.reason(), attempts));
            } else if (e instanceof Output<?, ?> o) {
                mine.computeIfAbsent(o.source(), i -> new ArrayList<>()).add(o);
            }
        }
        rejected.keySet().forEach(mine::remove);
        outputs.putAll(mine);
        failures.putAll(rejected);
    }

    private Duration backoffFor(int attempt) {
        return Backoff.jittered(backoff, maxBackoff, attempt);
    }
}
