package dev.mgmstream.reasoning;

import dev.mgmstream.model.lm.LanguageModel;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.pipeline.stage.TransientBatchException;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.List;

/**
 * One image's visual tokens as floats, checked against the model that is to read them.
 *
 * @param count tokens (rows); {@code values} holds {@code count x dim} floats
 */
record VisualTokenPayload(float[] values, int count, int dim) {

    /**
     * Reads the inline payload or follows the claim check, decodes the dtype, and checks the shape
     * against the model: {@code [tokens, hidden]} (a leading batch axis of 1 is accepted) with the
     * token count the model's image placeholder expands to.
     */
    static VisualTokenPayload read(VisualTokens v, LanguageModel lm, ClaimCheckReader claimChecks)
            throws InvalidVisualTokensException, TransientBatchException {
        List<Integer> shape = v.getShape();
        if (shape == null || shape.isEmpty() || shape.stream().anyMatch(d -> d == null || d <= 0)) {
            throw new InvalidVisualTokensException("visual tokens have no valid shape: " + shape);
        }
        List<Integer> s = shape.size() == 3 && shape.get(0) == 1 ? shape.subList(1, 3) : shape;
        int hidden = lm.manifest().languageModel().hiddenSize();
        int expected = lm.visualTokenCount();
        if (s.size() != 2 || s.get(0) != expected || s.get(1) != hidden) {
            throw new InvalidVisualTokensException("visual tokens of shape " + shape + " do not fit model "
                    + lm.modelId() + ", which takes [" + expected + ", " + hidden + "]");
        }
        int bytesPer;
        try {
            bytesPer = TensorBytes.bytesPerElement(v.getDtype());
        } catch (IllegalArgumentException e) {
            throw new InvalidVisualTokensException("visual tokens: " + e.getMessage(), e);
        }
        byte[] bytes = bytes(v, claimChecks);
        long want = (long) expected * hidden * bytesPer;
        if (bytes.length != want) {
            throw new InvalidVisualTokensException("visual tokens hold " + bytes.length + " bytes, shape " + shape
                    + " in " + v.getDtype() + " needs " + want);
        }
        float[] values = TensorBytes.decode(bytes, v.getDtype());
        for (float f : values) {
            if (!Float.isFinite(f)) {
                throw new InvalidVisualTokensException("visual tokens contain " + f);
            }
        }
        return new VisualTokenPayload(values, expected, hidden);
    }

    private static byte[] bytes(VisualTokens v, ClaimCheckReader claimChecks)
            throws InvalidVisualTokensException, TransientBatchException {
        ByteBuffer inline = v.getPayload();
        String uri = v.getClaimCheckUri();
        if ((inline == null) == (uri == null)) {
            throw new InvalidVisualTokensException("a VisualTokens record needs exactly one of payload and "
                    + "claim_check_uri, it has " + (inline == null ? "neither" : "both"));
        }
        if (inline != null) {
            ByteBuffer b = inline.duplicate();
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        }
        URI u;
        try {
            u = URI.create(uri);
        } catch (IllegalArgumentException e) {
            throw new InvalidVisualTokensException("claim_check_uri is not a URI: " + uri, e);
        }
        try {
            return claimChecks.read(u);
        } catch (NoSuchFileException | FileNotFoundException e) {
            throw new InvalidVisualTokensException("nothing is stored under claim check " + uri, e);
        } catch (AccessDeniedException | FileClaimChecks.UnsupportedSchemeException e) {
            throw new InvalidVisualTokensException("claim check " + uri + " cannot be read: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new InvalidVisualTokensException("claim check " + uri + " is not a readable location: "
                    + e.getMessage(), e);
        } catch (IOException e) {
            // The store may come back (a network blip); the batch is retried rather than the record dropped.
            throw new TransientBatchException("reading claim check " + uri + " failed: " + e, e);
        }
    }
}
