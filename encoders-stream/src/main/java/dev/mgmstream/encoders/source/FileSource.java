package dev.mgmstream.encoders.source;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code file:} URIs, only under configured root folders. The check is made on real paths (every symbolic
 * link resolved, every {@code ..} gone), so neither {@code file:/roots/a/../../etc/passwd} nor a link inside
 * a root that points outside it reaches a file outside the roots. No roots configured: {@code file:} is off.
 */
public final class FileSource implements ImageSource {

    private final List<Path> roots;

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
        try {
            if (Files.size(real) > maxBytes) {
                throw new ImageRejectedException(Reason.TOO_MANY_BYTES, "file " + uri.getPath() + " has "
                        + Files.size(real) + " bytes, more than the limit of " + maxBytes);
            }
            try (InputStream in = Files.newInputStream(real)) {
                return Limited.readAll(in, maxBytes, "file " + uri.getPath());
            }
        } catch (IOException e) {
            throw new ImageRejectedException(Reason.FETCH_FAILED, "cannot read " + uri.getPath() + ": " + e.getMessage(), e);
        }
    }
}
