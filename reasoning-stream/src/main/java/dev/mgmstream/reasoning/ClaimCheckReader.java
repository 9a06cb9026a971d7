package dev.mgmstream.reasoning;

import java.io.IOException;
import java.net.URI;

/**
 * Fetches visual tokens that travelled by claim check (the record holds a URI, the bytes are in an
 * object store). The stage reads {@code file:} URIs under configured folders itself
 * ({@link FileClaimChecks}); a caller that wires the encoders' store (S3 or any other) passes its
 * {@code get} method here.
 */
@FunctionalInterface
public interface ClaimCheckReader {

    /**
     * @throws java.nio.file.NoSuchFileException when nothing is stored under the URI (the record is
     *         rejected); any other {@link IOException} is taken as transient and the batch is retried
     */
    byte[] read(URI uri) throws IOException;
}
