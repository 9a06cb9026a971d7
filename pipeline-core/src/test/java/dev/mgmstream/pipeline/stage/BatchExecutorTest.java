package dev.mgmstream.pipeline.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** The batch-splitting and retry logic, without a broker. */
class BatchExecutorTest {

    private static final OutputTopic<String, String> OUT =
            new OutputTopic<>("out", new StringSerializer(), new StringSerializer());

    private final List<Duration> slept = new ArrayList<>();

    @Test
    void aThrowingBatchIsSplitUntilThePoisonInputIsAlone() throws Exception {
        BatchFunction<String, String> fn = batch -> {
            if (batch.stream().anyMatch(in -> in.value().equals("poison"))) {
                throw new IllegalArgumentException("cannot digest poison");
            }
            return batch.stream().<Emitted>map(in -> Output.of(in, OUT, in.key(), in.value() + "!")).toList();
        };
        List<InputRecord<String, String>> batch = inputs(64, 37);

        BatchExecutor.Result result = executor(fn, 0).run(batch);

        assertThat(result.failures()).containsOnlyKeys(37);
        assertThat(result.failures().get(37).reason()).hasMessage("cannot digest poison");
        assertThat(result.failures().get(37).attempts()).as("whole batch plus six halvings").isEqualTo(7);
        assertThat(result.outputs()).hasSize(63).doesNotContainKey(37);
        assertThat(result.calls()).as("log2(64) levels of two calls plus the first").isEqualTo(13);
    }

    @Test
    void aRejectFromTheFunctionFailsOnlyThatInputAndDropsItsOutputs() throws Exception {
        BatchFunction<String, String> fn = batch -> {
            List<Emitted> out = new ArrayList<>();
            for (InputRecord<String, String> in : batch) {
                out.add(Output.of(in, OUT, in.key(), in.value()));
                if (in.index() == 2) {
                    out.add(Reject.of(in, new IllegalStateException("bad content")));
                }
            }
            return out;
        };
        BatchExecutor.Result result = executor(fn, 0).run(inputs(4, -1));
        assertThat(result.failures()).containsOnlyKeys(2);
        assertThat(result.outputs()).containsOnlyKeys(0, 1, 3);
        assertThat(result.calls()).isEqualTo(1);
    }

    @Test
    void transientFailuresRetryWithGrowingBackoff() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        BatchFunction<String, String> fn = batch -> {
            if (calls.incrementAndGet() < 3) {
                throw new TransientBatchException("device busy");
            }
            return List.of();
        };
        BatchExecutor.Result result = executor(fn, 3).run(inputs(4, -1));
        assertThat(result.failures()).isEmpty();
        // jittered between half and all of 10, 20 ms: instances that failed together retry apart
        assertThat(slept).hasSize(2);
        assertThat(slept.get(0)).isBetween(Duration.ofMillis(5), Duration.ofMillis(10));
        assertThat(slept.get(1)).isBetween(Duration.ofMillis(10), Duration.ofMillis(20));
    }

    @Test
    void anInfrastructureFailureIsRetriedNotSplitOrRejected() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        BatchFunction<String, String> fn = batch -> {
            if (calls.incrementAndGet() < 3) {
                throw new java.io.UncheckedIOException(new java.net.ConnectException("store refused the connection"));
            }
            return List.of();
        };
        BatchExecutor.Result result = executor(fn, 3).run(inputs(4, -1));
        assertThat(result.failures()).isEmpty();
        assertThat(calls).hasValue(3); // a split would have made more, smaller calls
        assertThatThrownBy(() -> executor(batch -> {
            throw new java.io.UncheckedIOException(new java.net.ConnectException("still down"));
        }, 1).run(inputs(4, -1))).isInstanceOf(TransientBatchException.class);
    }

    @Test
    void transientFailuresBeyondTheRetriesAreThrownNotDeadLettered() {
        BatchFunction<String, String> fn = batch -> {
            throw new TransientBatchException("device gone");
        };
        assertThatThrownBy(() -> executor(fn, 2).run(inputs(4, -1)))
                .isInstanceOf(TransientBatchException.class);
        assertThat(slept).hasSize(2);
    }

    @Test
    void outputsForInputsOutsideTheCallAreTreatedAsAFailure() throws Exception {
        BatchFunction<String, String> fn = batch -> List.of(new Output<>(999, OUT, "k", "v"));
        BatchExecutor.Result result = executor(fn, 0).run(inputs(1, -1));
        assertThat(result.failures()).containsOnlyKeys(0);
        assertThat(result.failures().get(0).reason()).isInstanceOf(IllegalStateException.class);
    }

    private BatchExecutor<String, String> executor(BatchFunction<String, String> fn, int retries) {
        return new BatchExecutor<>(fn, retries, Duration.ofMillis(10), Duration.ofMillis(15_000), slept::add);
    }

    private static List<InputRecord<String, String>> inputs(int n, int poisonAt) {
        return IntStream.range(0, n)
                .mapToObj(i -> new InputRecord<>(i, "in", 0, i, 0L, "k" + i, i == poisonAt ? "poison" : "v" + i))
                .toList();
    }
}
