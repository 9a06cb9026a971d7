package dev.mgmstream.model.vision;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The commonest PNG, 8-bit RGB or RGBA without interlacing, decoded straight from its bytes: zlib's
 * native inflate and one pass of un-filtering into packed RGB. ImageIO's reader goes through a
 * {@code BufferedImage} and its raster for the same pixels, about three times the work per image.
 *
 * <p>Only files it fully understands are decoded here; anything else (another colour type or depth,
 * interlacing, a chunk that could change the colours such as {@code iCCP}, {@code gAMA} or {@code tRNS},
 * a bad CRC, a truncated or overlong stream, an unknown filter) returns null and goes the ImageIO way,
 * which names what is wrong. The declared size is checked against the pixel budget before anything is
 * allocated, as for every other image.
 */
final class PngFastPath {

    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    /** Ancillary chunks that leave the pixels as they are (ImageIO does not apply them either). */
    private static final Set<String> HARMLESS = Set.of("pHYs", "tEXt", "zTXt", "iTXt", "tIME", "bKGD", "sRGB",
            "eXIf", "sPLT", "hIST");

    private PngFastPath() {
    }

    /** @return the pixels, or null when the file is not one this path decodes (the caller decodes it otherwise) */
    static RgbImage decode(byte[] b, long maxPixels) throws ImageRejectedException {
        if (b.length < 8 + 25 + 12 || !startsWithSignature(b)) {
            return null;
        }
        int at = 8;
        int width = 0;
        int height = 0;
        int channels = 0;
        Inflater inflater = null;
        byte[] raw = null;
        int rawAt = 0;
        byte[] spare = new byte[1];
        try {
            while (at + 12 <= b.length) {
                int length = readInt(b, at);
                if (length < 0 || at + 12L + length > b.length) {
                    return null;
                }
                String type = new String(b, at + 4, 4, StandardCharsets.ISO_8859_1);
                int data = at + 8;
                if (!crcMatches(b, at + 4, length)) {
                    return null;
                }
                if (at == 8) {
                    if (!type.equals("IHDR") || length != 13) {
                        return null;
                    }
                    width = readInt(b, data);
                    height = readInt(b, data + 4);
                    int depth = b[data + 8];
                    int colour = b[data + 9];
                    if (width <= 0 || height <= 0 || depth != 8 || (colour != 2 && colour != 6)
                            || b[data + 10] != 0 || b[data + 11] != 0 || b[data + 12] != 0) {
                        return null;
                    }
                    long pixels = (long) width * height;
                    if (pixels > maxPixels) {
                        throw new ImageRejectedException(ImageRejectedException.Reason.OVER_PIXEL_BUDGET,
                                "the PNG image declares " + width + " x " + height + " pixels (" + pixels
                                        + "), over the budget of " + maxPixels);
                    }
                    channels = colour == 2 ? 3 : 4;
                    raw = new byte[Math.toIntExact((long) height * (1 + (long) width * channels))];
                    inflater = new Inflater();
                } else if (type.equals("IDAT")) {
                    if (inflater.finished()) {
                        return null; // data after the end of the stream
                    }
                    inflater.setInput(b, data, length);
                    int idle = 0;
                    while (!inflater.needsInput() && !inflater.finished()) {
                        // once the image is full, a spare byte lets the stream reach its end (the checksum)
                        // and catches one that holds more than the image
                        int n = rawAt < raw.length ? inflater.inflate(raw, rawAt, raw.length - rawAt)
                                : inflater.inflate(spare);
                        if (n > 0 && rawAt == raw.length || inflater.needsDictionary() || (n == 0 && ++idle > 2)) {
                            return null;
                        }
                        rawAt += n;
                    }
                } else if (type.equals("IEND")) {
                    if (inflater == null || !inflater.finished() || rawAt != raw.length
                            || inflater.getRemaining() > 0) {
                        return null;
                    }
                    return unfilter(raw, width, height, channels);
                } else if (!HARMLESS.contains(type)) {
                    return null;
                }
                at = data + length + 4;
            }
            return null;
        } catch (DataFormatException | ArithmeticException e) {
            return null;
        } finally {
            if (inflater != null) {
                inflater.end();
            }
        }
    }

    private static boolean startsWithSignature(byte[] b) {
        for (int i = 0; i < SIGNATURE.length; i++) {
            if (b[i] != SIGNATURE[i]) {
                return false;
            }
        }
        return true;
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xFF) << 24 | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | b[at + 3] & 0xFF;
    }

    /** The CRC covers the chunk type and data; it follows them. */
    private static boolean crcMatches(byte[] b, int typeAt, int length) {
        CRC32 crc = new CRC32();
        crc.update(b, typeAt, 4 + length);
        return (int) crc.getValue() == readInt(b, typeAt + 4 + length);
    }

    /** Reverses the per-row filters in place, then packs each pixel as 0xRRGGBB (alpha over white). */
    private static RgbImage unfilter(byte[] raw, int width, int height, int channels) {
        int stride = width * channels;
        int[] out = new int[Math.multiplyExact(width, height)];
        for (int y = 0; y < height; y++) {
            int row = y * (stride + 1) + 1;
            int prev = row - stride - 1;      // the previous row's first byte; absent for the first row
            int filter = raw[row - 1];
            boolean first = y == 0;
            switch (filter) {
                case 0 -> { }
                case 1 -> {
                    for (int i = channels; i < stride; i++) {
                        raw[row + i] += raw[row + i - channels];
                    }
                }
                case 2 -> {
                    if (!first) {
                        for (int i = 0; i < stride; i++) {
                            raw[row + i] += raw[prev + i];
                        }
                    }
                }
                case 3 -> {
                    for (int i = 0; i < stride; i++) {
                        int left = i >= channels ? raw[row + i - channels] & 0xFF : 0;
                        int up = first ? 0 : raw[prev + i] & 0xFF;
                        raw[row + i] += (byte) ((left + up) >>> 1);
                    }
                }
                case 4 -> {
                    for (int i = 0; i < stride; i++) {
                        int left = i >= channels ? raw[row + i - channels] & 0xFF : 0;
                        int up = first ? 0 : raw[prev + i] & 0xFF;
                        int upLeft = first || i < channels ? 0 : raw[prev + i - channels] & 0xFF;
                        raw[row + i] += (byte) paeth(left, up, upLeft);
                    }
                }
                default -> {
                    return null;
                }
            }
            int o = y * width;
            if (channels == 3) {
                for (int x = 0, p = row; x < width; x++, p += 3) {
                    out[o + x] = (raw[p] & 0xFF) << 16 | (raw[p + 1] & 0xFF) << 8 | raw[p + 2] & 0xFF;
                }
            } else {
                for (int x = 0, p = row; x < width; x++, p += 4) {
                    out[o + x] = ImageDecoder.overWhite((raw[p + 3] & 0xFF) << 24 | (raw[p] & 0xFF) << 16
                            | (raw[p + 1] & 0xFF) << 8 | raw[p + 2] & 0xFF);
                }
            }
        }
        return new RgbImage(width, height, out);
    }

    private static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a);
        int pb = Math.abs(p - b);
        int pc = Math.abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
