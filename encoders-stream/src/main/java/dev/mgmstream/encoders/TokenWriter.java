package dev.mgmstream.encoders;

import dev.mgmstream.encoders.source.Sha256;
import dev.mgmstream.store.ObjectStore;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.pipeline.stage.TransientBatchException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;

/**
 * Turns an image's float tokens into what a {@code VisualTokens} record carries: bytes in the configured
 * dtype, inline when they fit under the threshold, otherwise written to the object store under the SHA-256
 * of the bytes (claim check) with only the URI inline.
 */
final class TokenWriter {

    /** Exactly one of {@code inline} and {@code uri} is set. */
    record Payload(ByteBuffer inline, String uri) {}

    private final String dtype;
    private final long inlineMaxBytes;
    private final ObjectStore store;

    TokenWriter(String dtype, long inlineMaxBytes, ObjectStore store) {
        this.dtype = TensorBytes.normalise(dtype);
        TensorBytes.bytesPerElement(this.dtype); // refuses an unknown dtype at start, not at the first batch
        this.inlineMaxBytes = inlineMaxBytes;
        this.store = store;
    }

    String dtype() {
        return dtype;
    }

    /**
     * @throws TransientBatchException when the store cannot take the object (a full disk, a permission that
     *         flapped, S3 away): the tokens are the task's only through its image, never its fault, so the
     *         batch waits and tries again instead of its tasks being rejected
     */
    Payload write(float[] tokens) throws TransientBatchException {
        byte[] bytes = TensorBytes.encode(tokens, dtype);
        if (bytes.length <= inlineMaxBytes) {
            return new Payload(ByteBuffer.wrap(bytes), null);
        }
        String key = "tokens/" + sha256(bytes) + "." + dtype;
        try {
            URI uri = store.put(key, bytes);
            return new Payload(null, uri.toString());
        } catch (IOException | UncheckedIOException e) {
            throw new TransientBatchException("cannot write the claim check " + key + ": " + e, e);
        }
    }

    static String sha256(byte[] bytes) {
        return Sha256.hex(bytes);
    }
}
