package dev.mgmstream.lake;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.LockManager;
import org.apache.iceberg.util.PropertyUtil;

/**
 * The commit lock of the Hadoop catalog, held across processes. A Hadoop catalog commits by checking
 * that the next {@code vN.metadata.json} does not exist and renaming its new metadata onto it; on a
 * local file system that rename replaces a file another process renamed there a moment before, and
 * Iceberg's default lock around the two steps is an in-memory one, so two sink processes on one folder
 * could each believe their commit landed while one of them was overwritten.
 *
 * <p>This lock is an operating-system lock on a file beside the table's folder
 * ({@code .answers.mgm-commit.lock} for the table {@code answers}), which every process on the machine
 * sees, taken after a lock within this process (the operating system's lock is held per process, not
 * per thread). Beside, not inside: a maintenance job that removes the files in a table's folder that no
 * snapshot names would delete the lock file, and a process opening it afresh then would lock another
 * file than the holder's. For a warehouse that is not a local folder only the in-process lock applies;
 * {@link LakeTable} warns about that.
 *
 * <p>Iceberg makes one per catalog ({@code lock-impl}) and calls {@link #acquire} and {@link #release}
 * around each commit's rename, naming the new metadata file.
 */
final class LocalFolderLock implements LockManager {

    static final String LOCK_SUFFIX = ".mgm-commit.lock";
    private static final long WAIT_STEP_MS = 10;

    /** Per lock file, or per metadata folder off the local file system: shared by every catalog in the process. */
    private static final Map<String, Semaphore> IN_PROCESS = new ConcurrentHashMap<>();

    private record Held(String owner, Semaphore inProcess, FileChannel channel) {
    }

    private final Map<String, Held> held = new ConcurrentHashMap<>();
    private long timeoutMs = CatalogProperties.LOCK_ACQUIRE_TIMEOUT_MS_DEFAULT;

    @Override
    public void initialize(Map<String, String> properties) {
        timeoutMs = PropertyUtil.propertyAsLong(properties, CatalogProperties.LOCK_ACQUIRE_TIMEOUT_MS,
                CatalogProperties.LOCK_ACQUIRE_TIMEOUT_MS_DEFAULT);
    }

    @Override
    public boolean acquire(String entityId, String ownerId) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        Path lockFile = lockFile(entityId);
        String key = lockFile != null ? lockFile.toString() : folder(entityId);
        Semaphore inProcess = IN_PROCESS.computeIfAbsent(key, k -> new Semaphore(1));
        try {
            if (!inProcess.tryAcquire(timeoutMs, TimeUnit.MILLISECONDS)) {
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        FileChannel channel = null;
        try {
            if (lockFile != null) {
                channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                if (!lockWithin(channel, deadline)) {
                    channel.close();
                    inProcess.release();
                    return false;
                }
            }
            held.put(entityId, new Held(ownerId, inProcess, channel));
            return true;
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel, e);
            inProcess.release();
            throw e instanceof IOException io ? new UncheckedIOException("Could not lock " + lockFile, io)
                    : (RuntimeException) e;
        }
    }

    private static boolean lockWithin(FileChannel channel, long deadline) throws IOException {
        try {
            for (FileLock lock = channel.tryLock(); lock == null; lock = channel.tryLock()) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(WAIT_STEP_MS); // another process is committing to this table
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public boolean release(String entityId, String ownerId) {
        Held h = held.get(entityId);
        if (h == null || !h.owner().equals(ownerId)) {
            return false;
        }
        held.remove(entityId);
        try {
            if (h.channel() != null) {
                h.channel().close(); // releases the file lock
            }
            return true;
        } catch (IOException e) {
            return false;
        } finally {
            h.inProcess().release();
        }
    }

    @Override
    public void close() {
        held.forEach((entity, h) -> release(entity, h.owner()));
    }

    /**
     * The lock file of the table a local metadata file ({@code <table>/metadata/vN.metadata.json}) belongs
     * to; null when the metadata is not on the local file system.
     */
    static Path lockFile(String entityId) {
        URI uri = new org.apache.hadoop.fs.Path(entityId).toUri();
        if (uri.getScheme() != null && !uri.getScheme().equals("file")) {
            return null;
        }
        Path table = Path.of(uri.getPath()).getParent().getParent();
        return table.resolveSibling("." + table.getFileName() + LOCK_SUFFIX);
    }

    private static String folder(String entityId) {
        return new org.apache.hadoop.fs.Path(entityId).getParent().toString();
    }

    private static void closeQuietly(FileChannel channel, Exception cause) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                cause.addSuppressed(e);
            }
        }
    }
}
