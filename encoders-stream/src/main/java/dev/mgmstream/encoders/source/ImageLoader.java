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

    /** The image and its SHA-256, which the source may know from an earlier read ({@link FileSource}). */
    public ImageSource.Fetched loadWithSha256(String uriText) throws ImageRejectedException, TransientSourceException {
        URI uri = parse(uriText);
        return sourceFor(uri).fetchWithSha256(uri, maxBytes);
    }

    /** The image's SHA-256 when its source knows it without reading the image again; null otherwise. */
    public String knownSha256(String uriText) throws ImageRejectedException {
        URI uri = parse(uriText);
        return sourceFor(uri).knownSha256(uri);
    }

    private static URI parse(String uriText) throws ImageRejectedException {
        try {
            return new URI(uriText);
        } catch (URISyntaxException e) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "not a valid URI: " + uriText);
        }
    }

    private ImageSource sourceFor(URI uri) throws ImageRejectedException {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        ImageSource source = bySchema.get(scheme);
        if (source == null) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "images by '" + scheme + ":' URI are not accepted"
                    + "; accepted schemes: " + String.join(", ", bySchema.keySet().stream().sorted().toList()));
        }
        return source;
    }
}
