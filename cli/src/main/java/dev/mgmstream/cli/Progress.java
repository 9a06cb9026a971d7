package dev.mgmstream.cli;

import java.io.PrintStream;
import java.util.Map;
import java.util.TreeMap;

import dev.mgmstream.ingest.BulkRun;
import dev.mgmstream.ingest.TaskFile;
import dev.mgmstream.ingest.TaskResult;

/**
 * Shows a run's progress: on a terminal, one line redrawn in place with a bar, the rate and the time
 * left; otherwise (a log, CI) a plain line every few seconds, so the output stays readable.
 */
final class Progress implements BulkRun.Listener {

    private static final int BAR = 30;
    private static final long PLAIN_EVERY_NANOS = 5_000_000_000L;
    private static final long REDRAW_EVERY_NANOS = 100_000_000L;

    private final PrintStream out;
    private final boolean terminal;
    private final long started = System.nanoTime();
    private final Map<String, Integer> byStatus = new TreeMap<>();
    private long lastShown;
    /** When the first result came: the models' first batch is slow, so the rate that predicts starts here. */
    private long firstResultAt;
    private int done;
    private int total;

    Progress(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    /** A terminal is assumed when the JVM has a console and TERM is not "dumb". */
    static Progress forStderr() {
        boolean tty = System.console() != null && !"dumb".equals(System.getenv("TERM"));
        return new Progress(System.err, tty);
    }

    @Override
    public synchronized void malformed(TaskFile.LineError error) {
        clearLine();
        out.println("skipped " + error);
    }

    @Override
    public synchronized void published(int published, int total) {
        this.total = total;
        if (published == total) {
            clearLine();
            out.println("published " + total + " tasks");
        }
    }

    @Override
    public synchronized void result(TaskResult result, int done, int total) {
        this.done = done;
        this.total = total;
        byStatus.merge(result.status(), 1, Integer::sum);
        long now = System.nanoTime();
        if (firstResultAt == 0) {
            firstResultAt = now;
        }
        if (terminal ? now - lastShown >= REDRAW_EVERY_NANOS || done == total : now - lastShown >= PLAIN_EVERY_NANOS) {
            lastShown = now;
            show(now);
        }
    }

    /** Ends the progress line (call once the run is over). */
    synchronized void finish() {
        if (terminal && lastShown != 0) {
            show(System.nanoTime());
            out.println();
        } else if (!terminal && done > 0) {
            show(System.nanoTime());
        }
    }

    private void show(long now) {
        double seconds = Math.max(1e-3, (now - started) / 1e9);
        double rate = done / seconds;
        // No promise from the first few results (the first one waits for the pipeline, then a batch lands at once).
        double flowing = done > 1 && now > firstResultAt ? (done - 1) / ((now - firstResultAt) / 1e9) : 0;
        String eta = total <= done ? "-"
                : done < Math.max(3, total / 20) || flowing <= 0 ? "..." : duration((total - done) / flowing);
        String text = String.format("%d/%d results  %.1f/s  ETA %s  %s", done, total, rate, eta, byStatus);
        if (terminal) {
            int filled = total == 0 ? BAR : (int) Math.round(BAR * (double) done / total);
            out.print("\r\033[K[" + "#".repeat(filled) + ".".repeat(BAR - filled) + "] " + text);
            out.flush();
        } else {
            out.println("progress: " + text);
        }
    }

    private void clearLine() {
        if (terminal) {
            out.print("\r\033[K");
        }
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format("%d:%02d", s / 60, s % 60);
    }
}
