package dev.mgmstream.model.vision;

import java.util.Locale;

/**
 * Resizes 8-bit RGB images the way Pillow's {@code Image.resize} does, because the models were trained on
 * Pillow's output: a separable convolution whose kernel widens with the downscale factor (so shrinking
 * averages instead of skipping pixels), 22-bit fixed-point weights, the horizontal pass first, and each
 * pass rounded and clipped to 8 bits.
 */
public final class Resampler {

    /** The filters a manifest may name; "area" is Pillow's box filter. */
    public enum Filter {
        BICUBIC(2.0), BILINEAR(1.0), AREA(0.5);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        public static Filter parse(String name) {
            return switch (name == null ? "bicubic" : name.toLowerCase(Locale.ROOT)) {
                case "bicubic" -> BICUBIC;
                case "bilinear" -> BILINEAR;
                case "area", "box" -> AREA;
                default -> throw new IllegalArgumentException("unknown resize filter '" + name
                        + "'; known: bicubic, bilinear, area");
            };
        }

        double weight(double x) {
            x = Math.abs(x);
            switch (this) {
                case BICUBIC -> {
                    final double a = -0.5;
                    if (x < 1.0) {
                        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                    }
                    if (x < 2.0) {
                        return (((x - 5) * x + 8) * x - 4) * a;
                    }
                    return 0.0;
                }
                case BILINEAR -> {
                    return x < 1.0 ? 1.0 - x : 0.0;
                }
                default -> {
                    return x < 0.5 ? 1.0 : 0.0;
                }
            }
        }
    }

    private static final int PRECISION_BITS = 32 - 8 - 2;

    private Resampler() {
    }

    public static RgbImage resize(RgbImage in, int width, int height, Filter filter) {
        if (in.width() == width && in.height() == height) {
            return in;
        }
        return resizePadded(in, in.width(), in.height(), 0, 0, 0, width, height, filter);
    }

    /**
     * Resizes {@code in} as if it were first pasted at {@code (ox, oy)} on a {@code canvasW x canvasH} canvas of
     * {@code padRgb}, without building that canvas: padding a 20000 x 2000 panorama to a square would take
     * 1.6 GB of pixels, while the horizontal pass only ever needs {@code width} pixels per canvas row.
     */
    public static RgbImage resizePadded(RgbImage in, int canvasW, int canvasH, int ox, int oy, int padRgb,
                                        int width, int height, Filter filter) {
        // Horizontal pass first, as Pillow does, to an 8-bit intermediate of width x canvasH.
        int[] mid = new int[Math.multiplyExact(width, canvasH)];
        if (width == canvasW) {
            for (int y = 0; y < canvasH; y++) {
                for (int x = 0; x < width; x++) {
                    mid[y * width + x] = canvasPixel(in, ox, oy, padRgb, x, y);
                }
            }
        } else {
            Coefficients c = coefficients(canvasW, width, filter);
            int[] padRow = null;
            int[] row = new int[canvasW];
            for (int y = 0; y < canvasH; y++) {
                boolean pad = y < oy || y >= oy + in.height();
                if (pad && padRow != null) {
                    System.arraycopy(padRow, 0, mid, y * width, width);
                    continue;
                }
                for (int x = 0; x < canvasW; x++) {
                    row[x] = canvasPixel(in, ox, oy, padRgb, x, y);
                }
                convolve(row, 0, 1, c, mid, y * width, 1, width);
                if (pad) {
                    padRow = java.util.Arrays.copyOfRange(mid, y * width, (y + 1) * width);
                }
            }
        }
        if (height == canvasH) {
            return new RgbImage(width, height, mid);
        }
        Coefficients c = coefficients(canvasH, height, filter);
        int[] out = new int[Math.multiplyExact(width, height)];
        for (int x = 0; x < width; x++) {
            convolve(mid, x, width, c, out, x, width, height);
        }
        return new RgbImage(width, height, out);
    }

    private static int canvasPixel(RgbImage in, int ox, int oy, int padRgb, int x, int y) {
        int ix = x - ox;
        int iy = y - oy;
        return ix >= 0 && iy >= 0 && ix < in.width() && iy < in.height() ? in.rgb()[iy * in.width() + ix] : padRgb;
    }

    /** One 1-D pass over packed pixels: {@code src[srcAt + i * srcStep]} to {@code n} outputs at {@code dstStep}. */
    private static void convolve(int[] src, int srcAt, int srcStep, Coefficients c, int[] dst, int dstAt, int dstStep,
                                 int n) {
        for (int o = 0; o < n; o++) {
            int[] k = c.weights[o];
            int base = srcAt + c.start[o] * srcStep;
            long r = 1L << (PRECISION_BITS - 1);
            long g = r;
            long b = r;
            for (int i = 0; i < k.length; i++) {
                int p = src[base + i * srcStep];
                r += (long) (p >> 16 & 0xFF) * k[i];
                g += (long) (p >> 8 & 0xFF) * k[i];
                b += (long) (p & 0xFF) * k[i];
            }
            dst[dstAt + o * dstStep] = clip8(r) << 16 | clip8(g) << 8 | clip8(b);
        }
    }

    /** For each output position: the first input index and the fixed-point weights from there. */
    private record Coefficients(int[] start, int[][] weights) {}

    private static Coefficients coefficients(int inSize, int outSize, Filter filter) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support * filterScale;
        int[] start = new int[outSize];
        int[][] weights = new int[outSize][];
        for (int o = 0; o < outSize; o++) {
            double center = (o + 0.5) * scale;
            int min = Math.max((int) (center - support + 0.5), 0);
            int max = Math.min((int) (center + support + 0.5), inSize);
            double[] k = new double[Math.max(max - min, 0)];
            double sum = 0;
            for (int i = 0; i < k.length; i++) {
                k[i] = filter.weight((i + min - center + 0.5) / filterScale);
                sum += k[i];
            }
            int[] fixed = new int[k.length];
            for (int i = 0; i < k.length; i++) {
                double v = sum != 0.0 ? k[i] / sum : k[i];
                fixed[i] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
            }
            start[o] = min;
            weights[o] = fixed;
        }
        return new Coefficients(start, weights);
    }

    private static int clip8(long acc) {
        long v = acc >> PRECISION_BITS;
        return v < 0 ? 0 : v > 255 ? 255 : (int) v;
    }

}
