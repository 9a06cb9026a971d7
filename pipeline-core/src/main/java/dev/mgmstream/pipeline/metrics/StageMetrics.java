package dev.mgmstream.pipeline.metrics;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * The meters of one stage, all tagged {@code stage=<name>}. Gauges read values the poll thread
 * stores, because the consumer they come from must not be touched from the scrape thread.
 */
public final class StageMetrics {

    private final Counter recordsIn;
    private final Counter recordsOut;
    private final Counter deadLettered;
    private final Counter aborted;
    private final Counter timedOut;
    private final DistributionSummary batchSize;
    private final Timer batchLatency;
    private final AtomicLong lag = new AtomicLong();
    private final AtomicLong buffered = new AtomicLong();

    public StageMetrics(MeterRegistry registry, String stage) {
        recordsIn = Counter.builder("mgm.stage.records.in").tag("stage", stage)
                .description("Input records consumed and committed").register(registry);
        recordsOut = Counter.builder("mgm.stage.records.out").tag("stage", stage)
                .description("Output records committed, dead letters excluded").register(registry);
        deadLettered = Counter.builder("mgm.stage.dead.lettered").tag("stage", stage)
                .description("Input records sent to the dead-letter topic").register(registry);
        aborted = Counter.builder("mgm.stage.transactions.aborted").tag("stage", stage)
                .description("Transactions aborted; their inputs are read again").register(registry);
        timedOut = Counter.builder("mgm.stage.batches.timed.out").tag("stage", stage)
                .description("Batches abandoned after computing longer than stage.batch.timeout.ms; read again")
                .register(registry);
        batchSize = DistributionSummary.builder("mgm.stage.batch.size").tag("stage", stage)
                .description("Inputs per committed batch").baseUnit("records")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
                .register(registry);
        batchLatency = Timer.builder("mgm.stage.batch.latency").tag("stage", stage)
                .description("From forming a batch to committing it")
                .publishPercentileHistogram()
                .register(registry);
        Gauge.builder("mgm.stage.consumer.lag", lag, AtomicLong::get).tag("stage", stage)
                .description("Records in the assigned partitions not yet fetched").baseUnit("records")
                .register(registry);
        Gauge.builder("mgm.stage.buffered", buffered, AtomicLong::get).tag("stage", stage)
                .description("Records fetched and waiting for a batch").baseUnit("records")
                .register(registry);
    }

    public void committed(int inputs, int outputs, int rejected, Duration latency) {
        recordsIn.increment(inputs);
        recordsOut.increment(outputs);
        deadLettered.increment(rejected);
        batchSize.record(inputs);
        batchLatency.record(latency);
    }

    public void aborted() {
        aborted.increment();
    }

    public void timedOut() {
        timedOut.increment();
    }

    public void lag(long records) {
        lag.set(records);
    }

    public void buffered(long records) {
        buffered.set(records);
    }
}
