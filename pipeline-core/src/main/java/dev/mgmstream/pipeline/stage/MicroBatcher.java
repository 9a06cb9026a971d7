package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Gathers items into batches by size and by age, and says when the source should stop fetching.
 *
 * <p>Pure bookkeeping with an injected nanosecond clock, so every decision can be tested without a
 * broker or a real wait. Not thread-safe: the stage's poll thread is its only user.
 *
 * <ul>
 *   <li>A batch is ready when {@code maxSize} items are waiting, or when the oldest waiting item
 *   has waited {@code linger}; the linger clock starts when an item arrives, so an idle stage
 *   never emits empty batches.</li>
 *   <li>Fetching pauses once {@code maxBuffered} items wait and resumes when fewer do, which bounds
 *   memory while a slow batch computes; the poll loop itself keeps running to stay in the group.</li>
 * </ul>
 *
 * @param <T> the buffered item, a consumer record in the runtime
 */
public final class MicroBatcher<T> {

    /** What the caller should do with its source after an update. */
    public enum Flow { PAUSE, RESUME, UNCHANGED }

    private final int maxSize;
    private final long lingerNanos;
    private final int maxBuffered;
    private final LongSupplier clock;
    private final Deque<Waiting<T>> waiting = new ArrayDeque<>();
    private boolean paused;

    public MicroBatcher(int maxSize, Duration linger, int maxBuffered, LongSupplier nanoClock) {
        if (maxSize < 1) {
            throw new IllegalArgumentException("maxSize must be >= 1, was " + maxSize);
        }
        if (linger.isNegative()) {
            throw new IllegalArgumentException("linger must not be negative, was " + linger);
        }
        if (maxBuffered < maxSize) {
            throw new IllegalArgumentException("maxBuffered (" + maxBuffered + ") must be >= maxSize (" + maxSize + ")");
        }
        this.maxSize = maxSize;
        this.lingerNanos = linger.toNanos();
        this.maxBuffered = maxBuffered;
        this.clock = nanoClock;
    }

    /** Adds what one poll returned; an empty poll changes nothing. */
    public void add(Collection<? extends T> items) {
        long now = clock.getAsLong();
        for (T item : items) {
            waiting.addLast(new Waiting<>(item, now));
        }
    }

    /** Whether {@link #drain()} should be called now. */
    public boolean ready() {
        return waiting.size() >= maxSize || (!waiting.isEmpty() && age() >= lingerNanos);
    }

    /**
     * How long the caller may block before the linger trigger fires: zero when a batch is ready,
     * {@code Long.MAX_VALUE} when nothing waits.
     */
    public long nanosUntilReady() {
        if (waiting.isEmpty()) {
            return Long.MAX_VALUE;
        }
        return ready() ? 0 : lingerNanos - age();
    }

    /** Removes and returns up to {@code maxSize} of the oldest items, in arrival order. */
    public List<T> drain() {
        int n = Math.min(maxSize, waiting.size());
        List<T> batch = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            batch.add(waiting.removeFirst().item());
        }
        return batch;
    }

    /** Forgets items, e.g. those of revoked partitions, which their new owner will read again. */
    public void discardIf(Predicate<? super T> condition) {
        waiting.removeIf(w -> condition.test(w.item()));
    }

    /** The items still waiting, oldest first, without removing them. */
    public List<T> peekAll() {
        List<T> all = new ArrayList<>(waiting.size());
        waiting.forEach(w -> all.add(w.item()));
        return all;
    }

    public int size() {
        return waiting.size();
    }

    /** Decides pausing from the current backlog; calling it again without change returns UNCHANGED. */
    public Flow flow() {
        boolean full = waiting.size() >= maxBuffered;
        if (full && !paused) {
            paused = true;
            return Flow.PAUSE;
        }
        if (!full && paused) {
            paused = false;
            return Flow.RESUME;
        }
        return Flow.UNCHANGED;
    }

    /** Whether the source is currently meant to be paused, e.g. to pause newly assigned partitions too. */
    public boolean paused() {
        return paused;
    }

    private long age() {
        return clock.getAsLong() - waiting.peekFirst().arrivedNanos();
    }

    private record Waiting<T>(T item, long arrivedNanos) {
    }
}
