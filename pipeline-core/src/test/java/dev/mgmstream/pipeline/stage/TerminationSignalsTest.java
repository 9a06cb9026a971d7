package dev.mgmstream.pipeline.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stop signals in a process of their own (a JVM's signal handlers are process-wide, and the test's own
 * JVM must keep its): a signal asks for the stop, and an inherited ignored SIGINT, which no handler can
 * ever see, is said in the log instead of leaving an operator's Ctrl-C or {@code kill -INT} to hang.
 */
@EnabledOnOs(OS.LINUX)
class TerminationSignalsTest {

    private static final String WARNING = "SIGINT is ignored in this process";

    /** Installs the handlers, says so, and exits 0 once a signal asked for the stop (3 if none came). */
    public static void main(String[] args) throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        try (TerminationSignals signals = TerminationSignals.onSignal("probe", stop::countDown)) {
            System.out.println("ready");
            System.out.flush();
            System.exit(stop.await(60, TimeUnit.SECONDS) ? 0 : 3);
        }
    }

    @Test
    void inheritedIgnoredSigintIsWarnedAboutAndSigtermStillStops(@TempDir Path dir) throws Exception {
        // A non-interactive shell's `trap "" INT` ignores SIGINT for what it execs, as a background job's does.
        Process p = start(dir, "trap '' INT; exec \"$@\"");
        String out = awaitReady(p, dir);
        assertTrue(out.contains(WARNING), out);
        send(p, "INT");
        assertFalse(p.waitFor(2, TimeUnit.SECONDS), "an ignored SIGINT ended the process");
        send(p, "TERM");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "SIGTERM did not stop it");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("out.log")));
    }

    @Test
    void sigintStopsAndNothingIsWarnedWhereItCanArrive(@TempDir Path dir) throws Exception {
        Process p = start(dir, "exec \"$@\"");
        String out = awaitReady(p, dir);
        if (TerminationSignals.ignored(2)) {
            // This build itself runs with SIGINT ignored (started in the background), so the child does too.
            assertTrue(out.contains(WARNING), out);
            send(p, "TERM");
        } else {
            assertFalse(out.contains(WARNING), out);
            send(p, "INT");
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the signal did not stop it");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("out.log")));
    }

    private static Process start(Path dir, String script) throws IOException {
        List<String> command = new ArrayList<>(List.of("/bin/sh", "-c", script, "sh",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), TerminationSignalsTest.class.getName()));
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("out.log").toFile()).start();
    }

    private static String awaitReady(Process p, Path dir) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && p.isAlive()) {
            String out = Files.readString(dir.resolve("out.log"));
            if (out.contains("ready")) {
                return out;
            }
            Thread.sleep(100);
        }
        p.destroyForcibly();
        throw new AssertionError("the probe never got ready: " + Files.readString(dir.resolve("out.log")));
    }

    private static void send(Process p, String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + signal + " failed");
    }
}
