package dev.mgmstream.model.vision;

/**
 * What the decoder accepts. Both limits are checked before any pixel is decoded, so memory per decode is
 * bounded by about {@code maxPixels * 8} bytes (a 16-bit RGBA raster) plus one {@code int} per pixel for the
 * converted copy, whatever the file claims.
 *
 * @param maxBytes  largest encoded file
 * @param maxPixels largest declared width x height (also applied to a GIF's logical screen)
 */
public record DecodeLimits(long maxBytes, long maxPixels) {

    /** 32 MiB of file and 40 megapixels: a large phone photo, with room. */
    public static final DecodeLimits DEFAULT = new DecodeLimits(32L << 20, 40_000_000L);

    public DecodeLimits {
        if (maxBytes < 1 || maxPixels < 1) {
            throw new IllegalArgumentException("decode limits must be positive: " + maxBytes + " bytes, "
                    + maxPixels + " pixels");
        }
    }
}
