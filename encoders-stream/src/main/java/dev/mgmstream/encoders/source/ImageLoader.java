package dev.mgmstream.encoders.source;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Map;

/**
 * Fetches an image named by URI through the source for its scheme ({@code file}, {@code s3}, {@code http},
 * {@code https}); any other scheme, and any scheme whose source is not configured, is refused.
 */
public final class ImageLoader {

    private final Map<String, ImageSource> bySchema;
    private final long maxBytes;

    /** @param sources by lower-case scheme */
    public ImageLoader(Map<String, ImageSource> sources, long maxBytes) {
        this.bySchema = Map.copyOf(sources);
        this.maxBytes = maxBytes;
    }

    public byte[] load(String uriText) throws ImageRejectedException, TransientSourceException {
        URI uri;
        try {
            uri = new URI(uriText);
        } catch (URISyntaxException e) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "not a valid URI: " + uriText);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        ImageSource source = bySchema.get(scheme);
        if (source == null) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "images by '" + scheme + ":' URI are not accepted"
                    + "; accepted schemes: " + String.join(", ", bySchema.keySet().stream().sorted().toList()));
        }
        return source.fetch(uri, maxBytes);
    }
}
