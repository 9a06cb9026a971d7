package dev.mgmstream.encoders;

import dev.mgmstream.model.vision.ImageRejectedException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The encoders' own meters, beside the stage runtime's: how many images really went through the encoders
 * (the cost), how many were answered from the cache or shared within a batch (the savings), rejections by
 * reason, and where a batch's time goes, step by step.
 */
public final class EncoderMetrics {

    /** Steps of a batch, in order. */
    public enum Step { LOAD, DECODE, PREPROCESS, LR, HR, MINING, SERIALISE }

    private final Counter imagesEncoded;
    private final Counter encoderRuns;
    private final Counter cacheHits;
    private final Counter sharedInBatch;
    private final Counter claimChecks;
    private final Map<ImageRejectedException.Reason, Counter> rejected = new EnumMap<>(ImageRejectedException.Reason.class);
    private final Map<Step, Timer> steps = new EnumMap<>(Step.class);

    public EncoderMetrics(MeterRegistry registry) {
        imagesEncoded = Counter.builder("mgm.encoders.images.encoded")
                .description("Images run through the vision encoders").register(registry);
        encoderRuns = Counter.builder("mgm.encoders.encoder.runs")
                .description("Batched calls of the vision encoders").register(registry);
        cacheHits = Counter.builder("mgm.encoders.cache.hits")
                .description("Images whose visual tokens came from the cache instead of an encoder run").register(registry);
        sharedInBatch = Counter.builder("mgm.encoders.batch.shared")
                .description("Tasks that shared another task's image, and its encoding, in the same batch").register(registry);
        claimChecks = Counter.builder("mgm.encoders.claim.checks")
                .description("Visual tokens written to the object store instead of inline").register(registry);
        for (ImageRejectedException.Reason r : ImageRejectedException.Reason.values()) {
            rejected.put(r, Counter.builder("mgm.encoders.rejected").tag("reason", r.name().toLowerCase())
                    .description("Tasks rejected, by reason").register(registry));
        }
        for (Step s : Step.values()) {
            steps.put(s, Timer.builder("mgm.encoders.step").tag("step", s.name().toLowerCase())
                    .description("Time per batch in each step").register(registry));
        }
    }

    void encoded(int images) {
        imagesEncoded.increment(images);
        encoderRuns.increment();
    }

    void cacheHit() {
        cacheHits.increment();
    }

    void shared(int tasks) {
        sharedInBatch.increment(tasks);
    }

    void claimCheck() {
        claimChecks.increment();
    }

    void rejected(ImageRejectedException.Reason reason) {
        rejected.get(reason).increment();
    }

    void time(Step step, long nanos) {
        steps.get(step).record(nanos, TimeUnit.NANOSECONDS);
    }

    public double imagesEncoded() {
        return imagesEncoded.count();
    }

    public double cacheHits() {
        return cacheHits.count();
    }

    public double sharedInBatch() {
        return sharedInBatch.count();
    }

    public double claimChecks() {
        return claimChecks.count();
    }

    public double rejectedCount(ImageRejectedException.Reason reason) {
        return rejected.get(reason).count();
    }

    /** Total seconds spent in a step so far. */
    public double seconds(Step step) {
        return steps.get(step).totalTime(TimeUnit.NANOSECONDS) / 1e9;
    }
}
