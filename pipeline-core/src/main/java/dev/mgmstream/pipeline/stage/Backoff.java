package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with jitter, so that instances that failed together do not retry together. */
public final class Backoff {

    private Backoff() {
    }

    /** Between half and all of {@code base * 2^(attempt-1)}, capped at {@code max}. */
    public static Duration jittered(Duration base, Duration max, int attempt) {
        long ceiling = Math.min(base.toMillis() << Math.min(Math.max(attempt, 1) - 1, 20), max.toMillis());
        long half = ceiling / 2;
        return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(ceiling - half + 1));
    }
}
