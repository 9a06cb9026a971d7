package dev.mgmstream.encoders.source;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/** Reads a stream to its end, or refuses as soon as it passes the cap, so a lying size header cannot flood the heap. */
final class Limited {

    private Limited() {
    }

    static byte[] readAll(InputStream in, long maxBytes, String what) throws IOException, ImageRejectedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = in.read(buf)) != -1) {
            total += n;
            if (total > maxBytes) {
                throw new ImageRejectedException(Reason.TOO_MANY_BYTES, what + " has more than " + maxBytes
                        + " bytes, the limit");
            }
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }
}
