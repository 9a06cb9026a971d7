package dev.mgmstream.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The scripts of models/ run with the project's Python ({@code models/py}, which finds the interpreter that
 * has torch), for tests that hold the Java runtime to what the PyTorch side computes at test time.
 */
public final class ModelsPython {

    public static final Path MODELS = Path.of(System.getProperty("mgm.models.dir", "../models"))
            .toAbsolutePath().normalize();

    private ModelsPython() {
    }

    /**
     * Runs {@code models/<script> args...} and returns what it printed; fails the test with that output when
     * the script fails or takes over ten minutes.
     *
     * @param args the script's path under models/, then its arguments
     */
    public static String run(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(MODELS.resolve("py").toString());
        cmd.add(MODELS.resolve(args.get(0)).toString());
        cmd.addAll(args.subList(1, args.size()));
        try {
            // a file rather than a pipe: a script that prints a lot cannot block on a full pipe while we wait
            Path log = Files.createTempFile("mgm-python", ".log");
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                p.getOutputStream().close();
                if (!p.waitFor(10, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IllegalStateException("timed out: " + String.join(" ", cmd));
                }
                String out = Files.readString(log, StandardCharsets.UTF_8);
                if (p.exitValue() != 0) {
                    throw new IllegalStateException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + out);
                }
                return out;
            } finally {
                Files.deleteIfExists(log);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
