package dev.mgmstream.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The default instance id of a stage process: the host name, then {@code -1}, {@code -2}... for further
 * copies on the same host. It must be the same after a restart, because it names the transactional.id
 * and the static group membership: a restarted copy with its old id fences its predecessor and aborts
 * the transaction it left open at once, where a new id leaves read_committed readers waiting for the
 * transaction timeout. In Kubernetes a StatefulSet's pod name is the host name, so each replica keeps
 * its id across restarts. On one machine each copy holds a lock file for its slot while it lives; a
 * restarted copy takes the lowest free slot, the one its predecessor released when it died.
 */
final class InstanceIds {

    private InstanceIds() {
    }

    /** A slot held until closed, or until the process ends: closing it frees the id for another copy. */
    record Claim(String id, FileChannel lock) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            lock.close();
        }
    }

    static Claim claim(String group, Path lockDir) {
        String host = hostName();
        try {
            Files.createDirectories(lockDir);
            for (int slot = 0; ; slot++) {
                String id = slot == 0 ? host : host + "-" + slot;
                FileChannel channel = FileChannel.open(lockDir.resolve(group + "." + id + ".lock"),
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock;
                try {
                    lock = channel.tryLock();
                } catch (OverlappingFileLockException sameProcess) {
                    lock = null;
                }
                if (lock != null) {
                    return new Claim(id, channel);
                }
                channel.close();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot claim an instance id under " + lockDir
                    + "; give one with --instance", e);
        }
    }

    static Path defaultLockDir() {
        return Path.of(System.getProperty("java.io.tmpdir"), "mgm-instance-ids");
    }

    static String hostName() {
        String fromEnv = System.getenv("HOSTNAME");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv.trim();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }
}
