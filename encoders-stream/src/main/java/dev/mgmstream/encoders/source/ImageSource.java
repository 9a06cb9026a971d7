package dev.mgmstream.encoders.source;

import dev.mgmstream.model.vision.ImageRejectedException;
import java.net.URI;

/** Fetches the bytes behind one URI scheme, under that scheme's policy. */
public interface ImageSource {

    /**
     * @param maxBytes the most bytes to accept; a larger object is rejected, ideally before it is transferred
     * @throws ImageRejectedException when the policy refuses the URI, it names nothing, or it is too large
     * @throws TransientSourceException when the store failed in a way that a retry may fix
     */
    byte[] fetch(URI uri, long maxBytes) throws ImageRejectedException, TransientSourceException;

    /** An image's bytes and their SHA-256 (lower-case hex), the image id. */
    record Fetched(byte[] bytes, String sha256) {
    }

    /** {@link #fetch} and the SHA-256 of what it returned. */
    default Fetched fetchWithSha256(URI uri, long maxBytes) throws ImageRejectedException, TransientSourceException {
        byte[] bytes = fetch(uri, maxBytes);
        return new Fetched(bytes, Sha256.hex(bytes));
    }

    /**
     * The SHA-256 of what {@link #fetch} would return now, when the source can tell without reading the image
     * (it read it before and knows it has not changed since); null when it cannot. The same policy applies as
     * to {@link #fetch}.
     */
    default String knownSha256(URI uri) throws ImageRejectedException {
        return null;
    }
}
