package dev.mgmstream.model.diffusion;

import java.awt.image.BufferedImage;

/** The largest difference of any channel of any pixel between two images of the same size (0-255). */
public final class PixelDiff {

    private PixelDiff() {
    }

    public static int max(BufferedImage ref, TextToImage.Image img) {
        BufferedImage mine = new BufferedImage(img.width(), img.height(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) {
                int k = (y * img.width() + x) * 3;
                mine.setRGB(x, y, (img.rgb()[k] & 0xFF) << 16 | (img.rgb()[k + 1] & 0xFF) << 8 | (img.rgb()[k + 2] & 0xFF));
            }
        }
        return max(ref, mine);
    }

    public static int max(BufferedImage a, BufferedImage b) {
        if (a.getWidth() != b.getWidth() || a.getHeight() != b.getHeight()) {
            throw new AssertionError("sizes differ: " + a.getWidth() + "x" + a.getHeight() + " and " + b.getWidth()
                    + "x" + b.getHeight());
        }
        int max = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int sh = 0; sh <= 16; sh += 8) {
                    max = Math.max(max, Math.abs(((p >> sh) & 0xFF) - ((q >> sh) & 0xFF)));
                }
            }
        }
        return max;
    }
}
