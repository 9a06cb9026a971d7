package dev.mgmstream.model.vision;

import com.twelvemonkeys.imageio.stream.ByteArrayImageInputStream;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorConvertOp;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Turns untrusted image bytes into an {@link RgbImage}, or an {@link ImageRejectedException} saying why not.
 *
 * <p>Safety comes before decoding: the byte count is checked, then the format is identified and only
 * JPEG, PNG, GIF, BMP, TIFF and WebP are accepted (TwelveMonkeys registers readers for many more formats,
 * each of them more attack surface), then the declared dimensions are read from the header and compared
 * with the pixel budget. Only then are pixels decoded, so a 30000 x 30000 PNG of a few kilobytes costs a
 * header read, not gigabytes. Anything a decoder throws on bad data becomes a rejection; a JPEG decoder's
 * "premature end" warning (it would otherwise fill the missing rows with grey) does too.
 *
 * <p>The result is 8-bit sRGB: CMYK and YCCK JPEGs and other ICC colour spaces go through a colour
 * conversion, grey images are copied sample by sample (Java's linear-grey colour space would brighten them
 * through {@code getRGB}, unlike PIL), alpha is composited onto white, and the EXIF orientation is applied.
 *
 * <p>Thread-safe: every call uses its own reader.
 */
public final class ImageDecoder {

    /** Format names as ImageIO's providers spell them, lower-cased. */
    private static final Set<String> ACCEPTED = Set.of("jpeg", "jpg", "png", "gif", "bmp", "tif", "tiff", "webp");
    static final String ACCEPTED_TEXT = "JPEG, PNG, GIF, BMP, TIFF and WebP";

    static {
        // A byte array is already in memory: a disk cache would only add temp files.
        ImageIO.setUseCache(false);
    }

    private final DecodeLimits limits;

    public ImageDecoder(DecodeLimits limits) {
        this.limits = limits;
    }

    public DecodeLimits limits() {
        return limits;
    }

    public RgbImage decode(byte[] bytes) throws ImageRejectedException {
        if (bytes.length == 0) {
            throw new ImageRejectedException(Reason.EMPTY, "the image is empty (0 bytes)");
        }
        if (bytes.length > limits.maxBytes()) {
            throw new ImageRejectedException(Reason.TOO_MANY_BYTES, "the image has " + bytes.length
                    + " bytes, more than the limit of " + limits.maxBytes());
        }
        checkGifScreen(bytes);
        RgbImage png = PngFastPath.decode(bytes, limits.maxPixels());
        if (png != null) {
            return ExifOrientation.apply(png, ExifOrientation.read(bytes));
        }
        try (ImageInputStream in = new ByteArrayImageInputStream(bytes)) {
            ImageReader reader = readerFor(in, bytes);
            try {
                return read(reader, in, bytes);
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            // Closing a byte-array stream does not fail; kept for the compiler.
            throw new ImageRejectedException(Reason.CORRUPT, "cannot read the image: " + e.getMessage(), e);
        }
    }

    private RgbImage read(ImageReader reader, ImageInputStream in, byte[] bytes) throws ImageRejectedException {
        String format = formatOf(reader);
        List<String> warnings = new ArrayList<>();
        reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
        BufferedImage image;
        try {
            in.seek(0);
            reader.setInput(in, false, false);
            int width = reader.getWidth(0);
            int height = reader.getHeight(0);
            if (width < 1 || height < 1) {
                throw new ImageRejectedException(Reason.CORRUPT, "the " + format + " image declares a size of "
                        + width + " x " + height);
            }
            long pixels = (long) width * height;
            if (pixels > limits.maxPixels()) {
                throw new ImageRejectedException(Reason.OVER_PIXEL_BUDGET, "the " + format + " image declares "
                        + width + " x " + height + " pixels (" + pixels + "), over the budget of "
                        + limits.maxPixels());
            }
            image = reader.read(0, reader.getDefaultReadParam());
        } catch (ImageRejectedException e) {
            throw e;
        } catch (IOException e) {
            throw ioFailure(format, e);
        } catch (RuntimeException e) {
            // Decoders signal malformed input with all sorts of unchecked exceptions (index out of bounds,
            // negative array size, illegal argument, ...): all of them mean this file, not this stage, is broken.
            throw new ImageRejectedException(Reason.CORRUPT, "the " + format + " image is corrupt (" + e + ")", e);
        } catch (OutOfMemoryError e) {
            // The declared size was within budget, so this is a decoder asking for a buffer the header did not
            // announce (a huge tile or palette). The failed allocation left nothing behind; the stage goes on.
            throw new ImageRejectedException(Reason.OVER_PIXEL_BUDGET, "the " + format
                    + " image needs more memory to decode than its declared size allows");
        }
        for (String w : warnings) {
            String lower = w.toLowerCase(Locale.ROOT);
            if (lower.contains("premature end") || lower.contains("truncat")) {
                throw new ImageRejectedException(Reason.TRUNCATED, "the " + format + " image is truncated (" + w + ")");
            }
            if (lower.contains("corrupt")) {
                throw new ImageRejectedException(Reason.CORRUPT, "the " + format + " image is corrupt (" + w + ")");
            }
        }
        RgbImage rgb = toRgb(image);
        return ExifOrientation.apply(rgb, ExifOrientation.read(bytes));
    }

    private static ImageRejectedException ioFailure(String format, IOException e) {
        boolean eof = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (t instanceof EOFException || m.contains("eof") || m.contains("end of") || m.contains("premature")
                    || m.contains("truncat") || m.contains("unexpected end")) {
                eof = true;
            }
        }
        String detail = e.getMessage();
        if (e.getCause() != null && e.getCause() != e) {
            detail = detail + ": " + e.getCause().getMessage();
        }
        return eof
                ? new ImageRejectedException(Reason.TRUNCATED, "the " + format + " image is truncated (" + detail + ")", e)
                : new ImageRejectedException(Reason.CORRUPT, "the " + format + " image is corrupt (" + detail + ")", e);
    }

    /** A GIF's logical screen is the canvas its frames are drawn on; a decoder may allocate it whole. */
    private void checkGifScreen(byte[] b) throws ImageRejectedException {
        if (b.length >= 10 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8') {
            int w = (b[6] & 0xFF) | (b[7] & 0xFF) << 8;
            int h = (b[8] & 0xFF) | (b[9] & 0xFF) << 8;
            if ((long) w * h > limits.maxPixels()) {
                throw new ImageRejectedException(Reason.OVER_PIXEL_BUDGET, "the GIF declares a logical screen of "
                        + w + " x " + h + " pixels, over the budget of " + limits.maxPixels());
            }
        }
    }

    private static ImageReader readerFor(ImageInputStream in, byte[] bytes) throws ImageRejectedException {
        Iterator<ImageReader> readers;
        try {
            readers = ImageIO.getImageReaders(in);
        } catch (RuntimeException e) {
            throw unsupported(bytes, null);
        }
        String refused = null;
        while (readers.hasNext()) {
            ImageReader r = readers.next();
            String format = formatOf(r);
            if (accepted(r)) {
                return r;
            }
            refused = format;
            r.dispose();
        }
        throw unsupported(bytes, refused);
    }

    private static boolean accepted(ImageReader r) {
        if (r.getOriginatingProvider() == null) {
            return false;
        }
        for (String name : r.getOriginatingProvider().getFormatNames()) {
            if (ACCEPTED.contains(name.toLowerCase(Locale.ROOT))) {
                return true;
            }
        }
        return false;
    }

    private static String formatOf(ImageReader r) {
        try {
            String name = r.getFormatName().toUpperCase(Locale.ROOT);
            return name.equals("TIF") ? "TIFF" : name;
        } catch (IOException e) {
            return "image";
        }
    }

    private static ImageRejectedException unsupported(byte[] bytes, String refusedFormat) {
        String what = refusedFormat != null ? refusedFormat + " images are not accepted" : FormatSniffer.describe(bytes);
        return new ImageRejectedException(Reason.UNSUPPORTED_FORMAT, "unsupported image format: " + what
                + "; accepted formats are " + ACCEPTED_TEXT);
    }

    /** Any decoded image as 8-bit sRGB without alpha (alpha composited onto white). */
    static RgbImage toRgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        int[] out = new int[Math.multiplyExact(w, h)];
        ColorModel cm = image.getColorModel();
        ColorSpace cs = cm.getColorSpace();
        if (cs.getType() == ColorSpace.TYPE_GRAY && !(cm instanceof IndexColorModel)) {
            copyGrey(image, out);
            return new RgbImage(w, h, out);
        }
        if (image.getType() == BufferedImage.TYPE_3BYTE_BGR || image.getType() == BufferedImage.TYPE_4BYTE_ABGR) {
            copyInterleaved(image, out);
            return new RgbImage(w, h, out);
        }
        BufferedImage src = image;
        if (!cs.isCS_sRGB() && !(cm instanceof IndexColorModel)) {
            // CMYK, YCCK (decoded to CMYK) and ICC-tagged images: LCMS converts the whole raster at once,
            // where getRGB would go through the colour space pixel by pixel.
            BufferedImage dst = new BufferedImage(w, h, cm.hasAlpha() ? BufferedImage.TYPE_INT_ARGB
                    : BufferedImage.TYPE_INT_RGB);
            new ColorConvertOp(null).filter(image, dst);
            src = dst;
        }
        boolean alpha = cm.hasAlpha();
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            src.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                int argb = row[x];
                out[y * w + x] = alpha ? overWhite(argb) : argb & 0xFFFFFF;
            }
        }
        return new RgbImage(w, h, out);
    }

    /**
     * The two layouts most JPEGs and PNGs decode to, read straight from their bytes: the same values
     * {@code getRGB} gives (both types are sRGB, non-premultiplied), without a colour-model call per pixel.
     */
    private static void copyInterleaved(BufferedImage image, int[] out) {
        byte[] data = ((java.awt.image.DataBufferByte) image.getRaster().getDataBuffer()).getData();
        boolean alpha = image.getType() == BufferedImage.TYPE_4BYTE_ABGR;
        int stride = alpha ? 4 : 3;
        for (int i = 0, p = 0; i < out.length; i++, p += stride) {
            int a = alpha ? data[p] & 0xFF : 255;
            int o = alpha ? 1 : 0;
            int b = data[p + o] & 0xFF;
            int g = data[p + o + 1] & 0xFF;
            int r = data[p + o + 2] & 0xFF;
            out[i] = a == 255 ? r << 16 | g << 8 | b : over(r, a) << 16 | over(g, a) << 8 | over(b, a);
        }
    }

    private static void copyGrey(BufferedImage image, int[] out) {
        Raster r = image.getRaster();
        ColorModel cm = image.getColorModel();
        int w = image.getWidth();
        int bands = r.getNumBands();
        int greyMax = (1 << cm.getComponentSize(0)) - 1;
        boolean alpha = cm.hasAlpha() && bands > 1;
        int alphaMax = alpha ? (1 << cm.getComponentSize(bands - 1)) - 1 : 1;
        int[] row = new int[w * bands];
        for (int y = 0; y < image.getHeight(); y++) {
            r.getPixels(0, y, w, 1, row);
            for (int x = 0; x < w; x++) {
                int g = to8(row[x * bands], greyMax);
                int a = alpha ? to8(row[x * bands + bands - 1], alphaMax) : 255;
                int v = a == 255 ? g : over(g, a);
                out[y * w + x] = v << 16 | v << 8 | v;
            }
        }
    }

    private static int to8(int sample, int max) {
        return max == 255 ? sample : (int) ((sample * 255L + max / 2) / max);
    }

    /** 0xAARRGGBB composited onto white, as 0xRRGGBB. */
    static int overWhite(int argb) {
        int a = argb >>> 24;
        if (a == 255) {
            return argb & 0xFFFFFF;
        }
        return over(argb >> 16 & 0xFF, a) << 16 | over(argb >> 8 & 0xFF, a) << 8 | over(argb & 0xFF, a);
    }

    private static int over(int c, int a) {
        return (c * a + 255 * (255 - a) + 127) / 255;
    }
}
