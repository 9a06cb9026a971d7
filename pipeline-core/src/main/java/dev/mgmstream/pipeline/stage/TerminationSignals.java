package dev.mgmstream.pipeline.stage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGINT and SIGTERM as a request to stop, not as the start of the JVM's shutdown.
 *
 * <p>Why not a shutdown hook: the JVM runs all hooks at once, and ONNX Runtime's Java binding registers
 * one that releases its native environment. On Ctrl-C that hook freed the environment while a stage's
 * worker was still inside {@code OrtSession.run}: SIGSEGV, exit 134 (reproduced in 3 of 3 tries of
 * {@code mgm run --embedded}). Handled here instead, the signal only asks the stages to stop; they finish
 * or abandon their batch, commit or abort, the models close once no thread uses them, and the command
 * then exits with its own exit code through {@code System.exit}, when the hooks find nothing running.
 * A second signal ends the process at once ({@link Runtime#halt}, which runs no hook either).
 */
public final class TerminationSignals implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TerminationSignals.class);
    private static final List<String> SIGNALS = List.of("INT", "TERM");
    /** Signals this process got, whichever handler took them: a stop asked for once stays asked for. */
    private static final AtomicInteger received = new AtomicInteger();

    private final List<Signal> signals = new ArrayList<>();
    private final List<SignalHandler> previous = new ArrayList<>();

    private TerminationSignals() {
    }

    /**
     * Runs {@code stop} once, on a thread of its own, at the first SIGINT or SIGTERM until closed, or at
     * once if one came before (while models loaded, say, under an earlier handler). {@code stop} should
     * only ask for the stop (it must not wait for it): the caller's thread does the stopping and returns
     * its exit code.
     */
    public static TerminationSignals onSignal(String name, Runnable stop) {
        TerminationSignals installed = new TerminationSignals();
        AtomicBoolean ran = new AtomicBoolean();
        Runnable once = () -> {
            if (ran.compareAndSet(false, true)) {
                Thread t = new Thread(stop, name + "-stop");
                t.setDaemon(true);
                t.start();
            }
        };
        SignalHandler handler = signal -> {
            if (received.getAndIncrement() == 0) {
                log.info("SIG{}: stopping {} (send it again to end at once)", signal.getName(), name);
                once.run();
            } else {
                System.err.println("mgm: second SIG" + signal.getName() + ", ending at once");
                Runtime.getRuntime().halt(128 + signal.getNumber());
            }
        };
        for (String s : SIGNALS) {
            try {
                Signal signal = new Signal(s);
                installed.previous.add(Signal.handle(signal, handler));
                installed.signals.add(signal);
                if (ignored(signal.getNumber())) {
                    // Inherited: a background job of a non-interactive shell starts with SIGINT ignored, POSIX
                    // keeps it so across exec, and the JVM then leaves it ignored; a stop that only sends it
                    // (kill -INT, a supervisor's Ctrl-C) would wait forever.
                    log.warn("SIG{} is ignored in this process (inherited from whatever started it) and cannot "
                            + "stop {}: send SIGTERM", s, name);
                }
            } catch (IllegalArgumentException unsupported) {
                // No such signal here, or the JVM was started with -Xrs: the default handling stays.
                log.debug("Cannot handle SIG{}: {}", s, unsupported.getMessage());
            }
        }
        if (received.get() > 0) {
            once.run();
        }
        return installed;
    }

    /** Whether this process has been asked to stop by a signal. */
    public static boolean received() {
        return received.get() > 0;
    }

    /**
     * Whether the kernel discards signal {@code number} for this process, as {@code /proc/self/status}
     * says; false where there is no such file.
     */
    public static boolean ignored(int number) {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return false;
        }
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("SigIgn:")) {
                    return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << (number - 1))) != 0;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return false;
    }

    /** Gives the signals back to whatever handled them before. */
    @Override
    public void close() {
        for (int i = 0; i < signals.size(); i++) {
            Signal.handle(signals.get(i), previous.get(i));
        }
    }
}
