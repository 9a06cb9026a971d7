package dev.mgmstream.pipeline.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import dev.mgmstream.pipeline.stage.MicroBatcher.Flow;
import org.junit.jupiter.api.Test;

class MicroBatcherTest {

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final MicroBatcher<Integer> batcher = new MicroBatcher<>(4, Duration.ofMillis(50), 8, now::get);

    @Test
    void sizeTriggerFiresAtMaxSizeAndDrainsOldestFirst() {
        batcher.add(List.of(1, 2, 3));
        assertThat(batcher.ready()).isFalse();
        batcher.add(List.of(4, 5, 6));
        assertThat(batcher.ready()).isTrue();
        assertThat(batcher.nanosUntilReady()).isZero();
        assertThat(batcher.drain()).containsExactly(1, 2, 3, 4);
        assertThat(batcher.size()).isEqualTo(2);
        assertThat(batcher.ready()).as("two left, linger not yet passed").isFalse();
    }

    @Test
    void lingerTriggerFiresForAPartialBatchOnceTheOldestHasWaited() {
        batcher.add(List.of(1));
        advance(Duration.ofMillis(30));
        batcher.add(List.of(2));
        assertThat(batcher.ready()).isFalse();
        assertThat(batcher.nanosUntilReady()).isEqualTo(Duration.ofMillis(20).toNanos());
        advance(Duration.ofMillis(20));
        assertThat(batcher.ready()).isTrue();
        assertThat(batcher.drain()).containsExactly(1, 2);
    }

    @Test
    void lingerRestartsFromTheOldestRemainingItem() {
        batcher.add(List.of(1, 2, 3, 4));
        advance(Duration.ofMillis(10));
        batcher.add(List.of(5));
        batcher.drain();
        advance(Duration.ofMillis(45));
        assertThat(batcher.ready()).as("5 has waited 45 ms of 50").isFalse();
        advance(Duration.ofMillis(5));
        assertThat(batcher.ready()).isTrue();
    }

    @Test
    void emptyPollsNeverMakeABatch() {
        batcher.add(List.of());
        advance(Duration.ofSeconds(10));
        batcher.add(List.of());
        assertThat(batcher.ready()).isFalse();
        assertThat(batcher.nanosUntilReady()).isEqualTo(Long.MAX_VALUE);
        assertThat(batcher.drain()).isEmpty();
    }

    @Test
    void pausesWhenTheBufferIsFullAndResumesWhenItDrains() {
        assertThat(batcher.flow()).isEqualTo(Flow.UNCHANGED);
        batcher.add(IntStream.range(0, 8).boxed().toList());
        assertThat(batcher.flow()).isEqualTo(Flow.PAUSE);
        assertThat(batcher.paused()).isTrue();
        assertThat(batcher.flow()).as("already paused").isEqualTo(Flow.UNCHANGED);
        batcher.drain();
        assertThat(batcher.flow()).isEqualTo(Flow.RESUME);
        assertThat(batcher.paused()).isFalse();
        assertThat(batcher.flow()).isEqualTo(Flow.UNCHANGED);
    }

    @Test
    void discardingRevokedItemsCanResumeFetching() {
        batcher.add(IntStream.range(0, 8).boxed().toList());
        assertThat(batcher.flow()).isEqualTo(Flow.PAUSE);
        batcher.discardIf(i -> i % 2 == 0);
        assertThat(batcher.peekAll()).containsExactly(1, 3, 5, 7);
        assertThat(batcher.flow()).isEqualTo(Flow.RESUME);
    }

    @Test
    void refusesABufferSmallerThanABatch() {
        assertThatThrownBy(() -> new MicroBatcher<Integer>(8, Duration.ZERO, 4, now::get))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxBuffered");
    }

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }
}
