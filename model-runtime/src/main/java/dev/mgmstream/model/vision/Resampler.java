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
        // Channels kept apart as ints in [0, 255] between passes, like Pillow's 8-bit intermediate image.
        int[][] planes = split(in);
        int w = in.width();
        int h = in.height();
        if (w != width) {
            Coefficients c = coefficients(w, width, filter);
            for (int ch = 0; ch < 3; ch++) {
                planes[ch] = horizontal(planes[ch], w, h, width, c);
            }
            w = width;
        }
        if (h != height) {
            Coefficients c = coefficients(h, height, filter);
            for (int ch = 0; ch < 3; ch++) {
                planes[ch] = vertical(planes[ch], w, h, height, c);
            }
            h = height;
        }
        int[] rgb = new int[w * h];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = planes[0][i] << 16 | planes[1][i] << 8 | planes[2][i];
        }
        return new RgbImage(w, h, rgb);
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

    private static int[] horizontal(int[] in, int w, int h, int outW, Coefficients c) {
        int[] out = new int[outW * h];
        for (int y = 0; y < h; y++) {
            int row = y * w;
            for (int x = 0; x < outW; x++) {
                int[] k = c.weights[x];
                int s = c.start[x];
                long acc = 1L << (PRECISION_BITS - 1);
                for (int i = 0; i < k.length; i++) {
                    acc += (long) in[row + s + i] * k[i];
                }
                out[y * outW + x] = clip8(acc);
            }
        }
        return out;
    }

    private static int[] vertical(int[] in, int w, int h, int outH, Coefficients c) {
        int[] out = new int[w * outH];
        for (int y = 0; y < outH; y++) {
            int[] k = c.weights[y];
            int s = c.start[y];
            for (int x = 0; x < w; x++) {
                long acc = 1L << (PRECISION_BITS - 1);
                for (int i = 0; i < k.length; i++) {
                    acc += (long) in[(s + i) * w + x] * k[i];
                }
                out[y * w + x] = clip8(acc);
            }
        }
        return out;
    }

    private static int clip8(long acc) {
        long v = acc >> PRECISION_BITS;
        return v < 0 ? 0 : v > 255 ? 255 : (int) v;
    }

    private static int[][] split(RgbImage img) {
        int n = img.rgb().length;
        int[][] planes = new int[3][n];
        for (int i = 0; i < n; i++) {
            int p = img.rgb()[i];
            planes[0][i] = p >> 16 & 0xFF;
            planes[1][i] = p >> 8 & 0xFF;
            planes[2][i] = p & 0xFF;
        }
        return planes;
    }
}
