package dev.mgmstream.model.vision;

import java.util.Objects;

/**
 * A decoded image as the preprocessing sees it: 8-bit sRGB, no alpha, orientation applied.
 *
 * @param rgb row-major pixels packed {@code 0xRRGGBB}, {@code width * height} of them
 */
public record RgbImage(int width, int height, int[] rgb) {

    public RgbImage {
        Objects.requireNonNull(rgb, "rgb");
        if (width < 1 || height < 1 || (long) width * height != rgb.length) {
            throw new IllegalArgumentException("RgbImage " + width + "x" + height + " with " + rgb.length + " pixels");
        }
    }

    public static RgbImage filled(int width, int height, int rgb) {
        int[] px = new int[Math.multiplyExact(width, height)];
        java.util.Arrays.fill(px, rgb & 0xFFFFFF);
        return new RgbImage(width, height, px);
    }

    public int get(int x, int y) {
        return rgb[y * width + x];
    }
}
