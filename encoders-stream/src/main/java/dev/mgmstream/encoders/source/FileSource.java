package dev.mgmstream.encoders.source;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code file:} URIs, only under configured root folders. The check is made on real paths (every symbolic
 * link resolved, every {@code ..} gone), so neither {@code file:/roots/a/../../etc/passwd} nor a link inside
 * a root that points outside it reaches a file outside the roots. No roots configured: {@code file:} is off.
 */
public final class FileSource implements ImageSource {

    /** How long a file must have been left alone before its hash is remembered by its stamp. */
    static final long SETTLED_MILLIS = 2_000;
    /** Files whose hash is remembered; an entry is about 200 bytes. */
    private static final int KNOWN_FILES = 100_000;

    private final List<Path> roots;
    private final Map<Path, Known> known = Collections.synchronizedMap(new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Path, Known> eldest) {
            return size() > KNOWN_FILES;
        }
    });

    public FileSource(List<Path> roots) {
        List<Path> real = new ArrayList<>();
        for (Path r : roots) {
            try {
                real.add(r.toRealPath());
            } catch (IOException e) {
                throw new IllegalArgumentException("image root folder " + r + " does not exist", e);
            }
        }
        this.roots = List.copyOf(real);
    }

    @Override
    public byte[] fetch(URI uri, long maxBytes) throws ImageRejectedException, TransientSourceException {
        return fetchWithSha256(uri, maxBytes).bytes();
    }

    /**
     * Reads the file and hashes it, and remembers the hash with the file's size, modification time and
     * identity when those did not change while it was read and the file had been left alone for a while
     * before: as git's index does, a file whose size, time and identity are unchanged is taken to be
     * unchanged, and one written just before it was read is not trusted that way, since a second write
     * within the clock's resolution would not show in its time.
     */
    @Override
    public Fetched fetchWithSha256(URI uri, long maxBytes) throws ImageRejectedException {
        Path real = allowed(uri);
        try {
            BasicFileAttributes before = Files.readAttributes(real, BasicFileAttributes.class);
            if (before.size() > maxBytes) {
                throw new ImageRejectedException(Reason.TOO_MANY_BYTES, "file " + uri.getPath() + " has "
                        + before.size() + " bytes, more than the limit of " + maxBytes);
            }
            long readAt = System.currentTimeMillis();
            byte[] bytes;
            try (InputStream in = Files.newInputStream(real)) {
                bytes = Limited.readAll(in, maxBytes, "file " + uri.getPath());
            }
            String sha256 = Sha256.hex(bytes);
            Stamp stamp = Stamp.of(before);
            if (stamp.equals(Stamp.of(Files.readAttributes(real, BasicFileAttributes.class)))
                    && before.lastModifiedTime().toMillis() < readAt - SETTLED_MILLIS) {
                known.put(real, new Known(stamp, sha256));
            }
            return new Fetched(bytes, sha256);
        } catch (IOException e) {
            throw new ImageRejectedException(Reason.FETCH_FAILED, "cannot read " + uri.getPath() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String knownSha256(URI uri) throws ImageRejectedException {
        Path real = allowed(uri);
        Known k = known.get(real);
        if (k == null) {
            return null;
        }
        try {
            return k.stamp().equals(Stamp.of(Files.readAttributes(real, BasicFileAttributes.class))) ? k.sha256() : null;
        } catch (IOException e) {
            return null; // fetch will say what is wrong
        }
    }

    /** The real path of the file the URI names, when the policy allows it; the reason otherwise. */
    private Path allowed(URI uri) throws ImageRejectedException {
        if (roots.isEmpty()) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "file: images are turned off (no "
                    + "encoders.source.file.roots configured)");
        }
        if (uri.getAuthority() != null && !uri.getAuthority().isEmpty() && !uri.getAuthority().equals("localhost")) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "file: URI " + uri + " names a remote host");
        }
        Path requested;
        try {
            requested = Path.of(uri.getPath());
        } catch (IllegalArgumentException e) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "file: URI " + uri + " is not a usable path");
        }
        if (!requested.isAbsolute()) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "file: URI " + uri + " is not absolute");
        }
        Path real;
        try {
            real = requested.toRealPath();
        } catch (NoSuchFileException e) {
            throw new ImageRejectedException(Reason.NOT_FOUND, "no such file: " + uri.getPath());
        } catch (IOException e) {
            throw new ImageRejectedException(Reason.NOT_FOUND, "cannot resolve " + uri.getPath() + ": " + e.getMessage());
        }
        if (roots.stream().noneMatch(real::startsWith)) {
            // Said the same way for a traversal and for a link out, so the message reveals nothing about the target.
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "file " + uri.getPath()
                    + " is outside the allowed image folders");
        }
        if (!Files.isRegularFile(real)) {
            throw new ImageRejectedException(Reason.NOT_FOUND, uri.getPath() + " is not a regular file");
        }
        return real;
    }

    /** What tells a file changed: its size, modification time and identity (inode), as git's index uses. */
    private record Stamp(long size, long modifiedNanos, Object fileKey) {
        static Stamp of(BasicFileAttributes a) {
            return new Stamp(a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS), a.fileKey());
        }
    }

    private record Known(Stamp stamp, String sha256) {
    }
}
