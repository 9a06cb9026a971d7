package dev.mgmstream.cli;

import java.util.Locale;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * One paragraph on where an embedded run spent its time, from the stages' own meters: per stage the
 * batches it committed, their mean size and the time from forming them to committing them; inside
 * the encoders each step, inside reasoning prefill, decode and KV-cache re-packing. It is what to read
 * first when a run is slower than expected (logged at INFO, so {@code MGM_LOG_LEVEL=INFO} shows it).
 */
final class TimeReport {

    private TimeReport() {
    }

    static String of(MeterRegistry meters) {
        StringBuilder b = new StringBuilder("Where the stages' time went:");
        for (String stage : new String[] {"encoders", "reasoning", "generation"}) {
            DistributionSummary size = meters.find("mgm.stage.batch.size").tag("stage", stage).summary();
            Timer latency = meters.find("mgm.stage.batch.latency").tag("stage", stage).timer();
            if (size == null || latency == null || size.count() == 0) {
                continue;
            }
            b.append(String.format(Locale.ROOT, "%n  %-10s %5d batches, %6.1f records each, %7.2f s forming to commit",
                    stage, size.count(), size.mean(), latency.totalTime(TimeUnit.MILLISECONDS) / 1000));
            if (stage.equals("encoders")) {
                b.append(steps(meters, "mgm.encoders.step", "step",
                        "load", "decode", "preprocess", "lr", "hr", "mining", "serialise"));
            } else if (stage.equals("reasoning")) {
                b.append(String.format(Locale.ROOT, " (prefill %.2f s, decode %.2f s, kv repack %.2f s)",
                        seconds(meters.find("mgm.reasoning.prefill").timer()),
                        seconds(meters.find("mgm.reasoning.decode").timer()),
                        seconds(meters.find("mgm.reasoning.kv.repack").timer())));
            }
        }
        return b.toString();
    }

    private static String steps(MeterRegistry meters, String name, String tag, String... values) {
        StringBuilder b = new StringBuilder(" (");
        for (int i = 0; i < values.length; i++) {
            b.append(i == 0 ? "" : ", ").append(values[i]).append(' ').append(String.format(Locale.ROOT, "%.2f s",
                    seconds(meters.find(name).tag(tag, values[i]).timer())));
        }
        return b.append(')').toString();
    }

    private static double seconds(Timer t) {
        return t == null ? 0 : t.totalTime(TimeUnit.MILLISECONDS) / 1000;
    }
}
