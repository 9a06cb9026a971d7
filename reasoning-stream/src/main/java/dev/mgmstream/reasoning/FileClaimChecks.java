package dev.mgmstream.reasoning;

import java.io.IOException;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code file:} claim checks, read only under the configured folders: a record must not be able to make
 * the stage read arbitrary files (the real path is checked, so neither {@code ..} nor a link leads out).
 */
public final class FileClaimChecks implements ClaimCheckReader {

    private final List<Path> roots;

    public FileClaimChecks(List<Path> roots) {
        List<Path> real = new ArrayList<>();
        for (Path r : roots) {
            Path abs = r.toAbsolutePath().normalize();
            try {
                real.add(abs.toRealPath());
            } catch (IOException e) {
                real.add(abs); // not created yet (the encoders create it on first write); nothing real is under it
            }
        }
        this.roots = List.copyOf(real);
    }

    @Override
    public byte[] read(URI uri) throws IOException {
        if (!"file".equalsIgnoreCase(uri.getScheme())) {
            throw new UnsupportedSchemeException("no reader for " + uri.getScheme() + ": claim checks; this stage "
                    + "reads file: URIs under " + ReasoningConfig.CLAIM_CHECK_ROOTS.name());
        }
        Path p = Path.of(uri).toRealPath();
        for (Path root : roots) {
            if (p.startsWith(root)) {
                return Files.readAllBytes(p);
            }
        }
        throw new AccessDeniedException(uri + " is outside the claim-check folders " + roots);
    }

    /** A claim check in a scheme nobody wired a reader for: the record cannot be read here, ever. */
    public static final class UnsupportedSchemeException extends IOException {
        private static final long serialVersionUID = 1L;

        public UnsupportedSchemeException(String message) {
            super(message);
        }
    }
}
