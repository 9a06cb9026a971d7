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
}
