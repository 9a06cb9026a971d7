package dev.mgmstream.model.vision;

import dev.mgmstream.model.ModelManifest;
import java.util.List;
import java.util.Objects;

/**
 * The manifest's image preprocessing, as the Python side trains with it (models/mgm/data.py):
 * pad to a square with the pad colour, centred, as Mini-Gemini's {@code expand2square} does; resize to the
 * HR size with Pillow's filter ({@link Resampler}); rescale and normalise per channel; then derive the LR
 * view, either by average pooling the normalised HR view ({@code lr.source = "hr"}, {@code resize = "area"},
 * mgm-tiny) or by resizing the padded image itself (a real export whose LR tower is CLIP).
 *
 * <p>With {@code hd_grid = g > 0} (Mini-Gemini-HD), the LR side also gets a {@code g x g} grid of sub-images
 * of the image at {@code g} times the LR size, so the LR encoder sees {@code g^2 + 1} images per input and the
 * projector returns {@code (g^2 + 1) N} tokens; see {@link VisionEncoder} for the matching split of the HR
 * features.
 */
public final class Preprocessor {

    private final ModelManifest.Preprocess spec;
    private final int hrSize;
    private final int lrSize;
    private final int grid;
    private final boolean withHr;
    private final boolean lrFromHr;
    private final boolean lrBilinear;
    private final Resampler.Filter hrFilter;
    private final Resampler.Filter lrFilter;
    private final float[] scale = new float[3];
    private final float[] shift = new float[3];

    public Preprocessor(ModelManifest.Vision vision) {
        this.spec = Objects.requireNonNull(vision.preprocess(), "vision.preprocess");
        this.hrSize = spec.hr().size();
        this.lrSize = spec.lr().size();
        this.grid = Math.max(vision.hdGrid(), 0);
        this.withHr = vision.hasHighResolution();
        this.lrFromHr = "hr".equals(spec.lr().source());
        this.hrFilter = Resampler.Filter.parse(spec.hr().resize());
        this.lrFilter = Resampler.Filter.parse(spec.lr().resize());
        this.lrBilinear = lrFromHr && lrFilter == Resampler.Filter.BILINEAR;
        if (lrBilinear && (Boolean.TRUE.equals(spec.lr().antialias()) || Boolean.TRUE.equals(spec.lr().alignCorners()))) {
            throw new IllegalArgumentException("preprocess.lr: deriving the LR view from the HR tensor supports "
                    + "bilinear without antialias and align_corners=false (the official derivation)");
        }
        if (lrFromHr && !lrBilinear) {
            requireMultiple(hrSize, lrSize, "the HR size", "the LR size");
            if (grid > 0) {
                requireMultiple(hrSize, grid * lrSize, "the HR size", "hd_grid x the LR size");
            }
        }
        List<Double> mean = spec.mean();
        List<Double> std = spec.std();
        for (int c = 0; c < 3; c++) {
            // (v * rescale - mean) / std, folded into one multiply-add per sample
            double s = spec.rescale() / std.get(c);
            scale[c] = (float) s;
            shift[c] = (float) (-mean.get(c) / std.get(c));
        }
    }

    private static void requireMultiple(int big, int small, String bigName, String smallName) {
        if (small <= 0 || big % small != 0) {
            throw new IllegalArgumentException("preprocess: " + bigName + " (" + big + ") must be a multiple of "
                    + smallName + " (" + small + ") to derive the LR view by area pooling");
        }
    }

    public int hrSize() {
        return hrSize;
    }

    public int lrSize() {
        return lrSize;
    }

    /** LR images per input: 1, or {@code grid^2 + 1} with Mini-Gemini-HD's token extension. */
    public int lrViewsPerImage() {
        return grid > 0 ? grid * grid + 1 : 1;
    }

    public int grid() {
        return grid;
    }

    public PixelViews apply(RgbImage image) {
        int lrPlane = 3 * lrSize * lrSize;
        float[] lr = new float[lrViewsPerImage() * lrPlane];
        float[] hr = null;
        if (withHr || lrFromHr) {
            hr = normalise(squareAt(image, hrSize, hrFilter));
        }
        if (lrBilinear && grid > 0) {
            // MGM-HD as the official code prepares it: the HR tensor resized to grid x the LR size and cut into
            // tiles, and the global view resized from that same tensor, not from the HR one
            int side = grid * lrSize;
            float[] big = bilinear(hr, hrSize, side);
            System.arraycopy(bilinear(big, side, lrSize), 0, lr, 0, lrPlane);
            tiles(big, side, lr, lrPlane);
        } else if (lrBilinear) {
            System.arraycopy(bilinear(hr, hrSize, lrSize), 0, lr, 0, lrPlane);
        } else if (lrFromHr) {
            System.arraycopy(avgPool(hr, hrSize, hrSize / lrSize), 0, lr, 0, lrPlane);
            if (grid > 0) {
                int side = grid * lrSize;
                tiles(avgPool(hr, hrSize, hrSize / side), side, lr, lrPlane);
            }
        } else {
            System.arraycopy(normalise(squareAt(image, lrSize, lrFilter)), 0, lr, 0, lrPlane);
            if (grid > 0) {
                int side = grid * lrSize;
                tiles(normalise(squareAt(image, side, lrFilter)), side, lr, lrPlane);
            }
        }
        return new PixelViews(lr, withHr ? hr : null);
    }

    /**
     * The image padded to a square (when the manifest says so) and resized to {@code size x size}. The padded
     * square is only built when it is already at the target size; otherwise the resize reads the padding
     * virtually, so a long panorama within the pixel budget does not become a huge square in memory.
     */
    private RgbImage squareAt(RgbImage img, int size, Resampler.Filter filter) {
        int w = img.width();
        int h = img.height();
        if (!spec.padToSquare() || w == h) {
            return Resampler.resize(img, size, size, filter);
        }
        int side = Math.max(w, h);
        if (side == size) {
            return expandToSquare(img);
        }
        return Resampler.resizePadded(img, side, side, (side - w) / 2, (side - h) / 2, padRgb(), size, size, filter);
    }

    private int padRgb() {
        List<Integer> pad = spec.padColor();
        return pad == null ? 0 : (pad.get(0) & 0xFF) << 16 | (pad.get(1) & 0xFF) << 8 | (pad.get(2) & 0xFF);
    }

    /** Pads to a square, the original centred; Python's {@code (side - w) // 2} offsets. */
    RgbImage expandToSquare(RgbImage img) {
        int w = img.width();
        int h = img.height();
        if (w == h) {
            return img;
        }
        int side = Math.max(w, h);
        RgbImage out = RgbImage.filled(side, side, padRgb());
        int ox = (side - w) / 2;
        int oy = (side - h) / 2;
        for (int y = 0; y < h; y++) {
            System.arraycopy(img.rgb(), y * w, out.rgb(), (y + oy) * side + ox, w);
        }
        return out;
    }

    private float[] normalise(RgbImage img) {
        int n = img.width() * img.height();
        float[] out = new float[3 * n];
        int[] px = img.rgb();
        for (int i = 0; i < n; i++) {
            int p = px[i];
            out[i] = (p >> 16 & 0xFF) * scale[0] + shift[0];
            out[n + i] = (p >> 8 & 0xFF) * scale[1] + shift[1];
            out[2 * n + i] = (p & 0xFF) * scale[2] + shift[2];
        }
        return out;
    }

    /** {@code k x k} average pooling of a {@code 3 x size x size} CHW tensor, as {@code F.avg_pool2d(x, k)}. */
    static float[] avgPool(float[] chw, int size, int k) {
        if (k == 1) {
            return chw.clone();
        }
        int out = size / k;
        float[] res = new float[3 * out * out];
        float inv = 1.0f / (k * k);
        for (int c = 0; c < 3; c++) {
            int plane = c * size * size;
            for (int y = 0; y < out; y++) {
                for (int x = 0; x < out; x++) {
                    float sum = 0;
                    for (int dy = 0; dy < k; dy++) {
                        int row = plane + (y * k + dy) * size + x * k;
                        for (int dx = 0; dx < k; dx++) {
                            sum += chw[row + dx];
                        }
                    }
                    res[c * out * out + y * out + x] = sum * inv;
                }
            }
        }
        return res;
    }

    /**
     * {@code F.interpolate(x, size=out, mode="bilinear", align_corners=False)} of a {@code 3 x size x size} CHW
     * tensor, without antialiasing: each output sample reads the two nearest inputs per axis at source position
     * {@code (o + 0.5) * size / out - 0.5}, clamped at 0, as PyTorch computes it (in float).
     */
    static float[] bilinear(float[] chw, int size, int out) {
        if (out == size) {
            return chw.clone();
        }
        int[] i0 = new int[out];
        int[] i1 = new int[out];
        float[] w1 = new float[out];
        float scale = (float) size / out;
        for (int o = 0; o < out; o++) {
            float src = Math.max(scale * (o + 0.5f) - 0.5f, 0f);
            int lo = Math.min((int) src, size - 1);
            i0[o] = lo;
            i1[o] = lo < size - 1 ? lo + 1 : lo;
            w1[o] = src - lo;
        }
        float[] res = new float[3 * out * out];
        for (int c = 0; c < 3; c++) {
            int plane = c * size * size;
            for (int y = 0; y < out; y++) {
                int r0 = plane + i0[y] * size;
                int r1 = plane + i1[y] * size;
                float wy1 = w1[y];
                float wy0 = 1f - wy1;
                for (int x = 0; x < out; x++) {
                    float wx1 = w1[x];
                    float wx0 = 1f - wx1;
                    res[c * out * out + y * out + x] = wy0 * (wx0 * chw[r0 + i0[x]] + wx1 * chw[r0 + i1[x]])
                            + wy1 * (wx0 * chw[r1 + i0[x]] + wx1 * chw[r1 + i1[x]]);
                }
            }
        }
        return res;
    }

    /** Splits a {@code 3 x side x side} view into grid x grid LR tiles, row-major, written from {@code at}. */
    private void tiles(float[] chw, int side, float[] dst, int at) {
        int pos = at;
        for (int ty = 0; ty < grid; ty++) {
            for (int tx = 0; tx < grid; tx++) {
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < lrSize; y++) {
                        int src = c * side * side + (ty * lrSize + y) * side + tx * lrSize;
                        System.arraycopy(chw, src, dst, pos, lrSize);
                        pos += lrSize;
                    }
                }
            }
        }
    }
}
