package dev.mgmstream.lake;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.iceberg.Table;
import org.apache.iceberg.catalog.Catalog;

/**
 * Another sink process, for {@link TwoSinkProcessesTest}: commits partition 1's answers 100..104 to the
 * lake in {@code args[0]} through the catalog the sink uses, and pauses inside that commit, between the
 * catalog's check that the next metadata version is free and its rename onto it. It writes the file
 * {@code renaming} into the folder {@code args[1]} when it gets there and goes on once {@code proceed}
 * appears. Exits 0 when its commit succeeded.
 */
public final class PausedCommitProcess {

    static final String RENAMING = "renaming";
    static final String PROCEED = "proceed";

    private static volatile Path signals;

    private PausedCommitProcess() {
    }

    public static void main(String[] args) {
        LakeSettings settings = LakeSettings.from(Map.of("lake.warehouse", args[0]));
        signals = Path.of(args[1]);
        Configuration conf = new Configuration(false);
        conf.set("fs.file.impl", PausingFileSystem.class.getName());
        conf.setBoolean("fs.file.impl.disable.cache", true);
        Catalog catalog = LakeTable.catalog(settings, conf);
        Table table = catalog.loadTable(settings.table());
        AnswerAppender.Outcome out = new AnswerAppender(table, "mgm.answers", "paused", 1).append(
                new AnswerAppender.Batch(LakeFixtures.rows("mgm.answers", 1, 100, 105, 1L),
                        Map.of(1, AnswerAppender.NONE), Map.of(1, 105L)));
        System.out.println("paused process committed: " + out.committed());
        System.exit(out.committed() ? 0 : 1);
    }

    /** The local file system, pausing before the first rename onto a metadata version. */
    public static final class PausingFileSystem extends LocalFileSystem {
        private static boolean paused;

        @Override
        public boolean rename(org.apache.hadoop.fs.Path src, org.apache.hadoop.fs.Path dst) throws IOException {
            if (!paused && dst.getName().matches("v\\d+\\.metadata\\.json")) {
                paused = true;
                waitForTheOtherProcess();
            }
            return super.rename(src, dst);
        }

        private static void waitForTheOtherProcess() {
            try {
                Files.createFile(signals.resolve(RENAMING));
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (!Files.exists(signals.resolve(PROCEED)) && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
