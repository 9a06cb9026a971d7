package dev.mgmstream.model.vision;

/**
 * The EXIF orientation tag (0x0112) and its application. Cameras store pixels as the sensor saw them and
 * say in this tag how to turn them upright; a viewer shows the turned image, so the model must see it too.
 *
 * <p>Read from a JPEG's APP1 "Exif" segment, a PNG's eXIf chunk, a WebP's EXIF chunk, or a TIFF's own
 * first directory. A small reader of our own rather than a metadata library: only one tag is needed, and
 * every offset in these untrusted bytes is bounds-checked.
 */
final class ExifOrientation {

    static final int NORMAL = 1;
    private static final int TAG_ORIENTATION = 0x0112;

    private ExifOrientation() {
    }

    /** The orientation (1 to 8) the bytes declare; 1 when they declare none or nonsense. */
    static int read(byte[] b) {
        try {
            int o;
            if (b.length > 4 && u8(b, 0) == 0xFF && u8(b, 1) == 0xD8) {
                o = fromJpeg(b);
            } else if (b.length > 8 && u8(b, 0) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') {
                o = fromPng(b);
            } else if (b.length > 12 && b[0] == 'R' && b[1] == 'I' && b[8] == 'W' && b[9] == 'E') {
                o = fromWebp(b);
            } else if (b.length > 8 && ((b[0] == 'I' && b[1] == 'I') || (b[0] == 'M' && b[1] == 'M'))) {
                o = fromTiff(b, 0, b.length);
            } else {
                o = NORMAL;
            }
            return o >= 1 && o <= 8 ? o : NORMAL;
        } catch (IndexOutOfBoundsException e) {
            return NORMAL;
        }
    }

    private static int fromJpeg(byte[] b) {
        int p = 2;
        while (p + 4 <= b.length && u8(b, p) == 0xFF) {
            int marker = u8(b, p + 1);
            if (marker == 0xDA || marker == 0xD9) {
                break; // start of scan / end of image: no more metadata
            }
            int len = u16be(b, p + 2);
            if (marker == 0xE1 && len >= 8 && startsWith(b, p + 4, "Exif\0")) {
                return fromTiff(b, p + 10, p + 2 + len);
            }
            p += 2 + len;
        }
        return NORMAL;
    }

    private static int fromPng(byte[] b) {
        int p = 8;
        while (p + 12 <= b.length) {
            int len = (int) Math.min(Integer.MAX_VALUE, u32be(b, p));
            if (startsWith(b, p + 4, "eXIf")) {
                return fromTiff(b, p + 8, p + 8 + len);
            }
            if (startsWith(b, p + 4, "IDAT") || len < 0) {
                break;
            }
            p += 12 + len;
        }
        return NORMAL;
    }

    private static int fromWebp(byte[] b) {
        int p = 12;
        while (p + 8 <= b.length) {
            int len = (int) Math.min(Integer.MAX_VALUE, u32le(b, p + 4));
            if (startsWith(b, p, "EXIF")) {
                int start = p + 8;
                if (startsWith(b, start, "Exif\0\0")) {
                    start += 6;
                }
                return fromTiff(b, start, p + 8 + len);
            }
            p += 8 + len + (len & 1);
        }
        return NORMAL;
    }

    /** Reads IFD0 of a TIFF structure found at {@code [start, end)} of {@code b}. */
    private static int fromTiff(byte[] b, int start, int end) {
        end = Math.min(end, b.length);
        if (start + 8 > end) {
            return NORMAL;
        }
        boolean little = b[start] == 'I';
        if (!(little ? b[start + 1] == 'I' : b[start] == 'M' && b[start + 1] == 'M')) {
            return NORMAL;
        }
        long ifd = start + u32(b, start + 4, little);
        if (ifd + 2 > end) {
            return NORMAL;
        }
        int entries = u16(b, (int) ifd, little);
        for (int i = 0; i < entries; i++) {
            int e = (int) ifd + 2 + 12 * i;
            if (e + 12 > end) {
                break;
            }
            if (u16(b, e, little) == TAG_ORIENTATION && u16(b, e + 2, little) == 3) {
                return u16(b, e + 8, little);
            }
        }
        return NORMAL;
    }

    /** The upright image; orientations as the EXIF standard numbers them. */
    static RgbImage apply(RgbImage img, int orientation) {
        if (orientation == NORMAL) {
            return img;
        }
        int w = img.width();
        int h = img.height();
        boolean swap = orientation >= 5;
        int ow = swap ? h : w;
        int[] out = new int[img.rgb().length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int nx;
                int ny;
                switch (orientation) {
                    case 2 -> { nx = w - 1 - x; ny = y; }          // mirrored
                    case 3 -> { nx = w - 1 - x; ny = h - 1 - y; }  // upside down
                    case 4 -> { nx = x; ny = h - 1 - y; }          // mirrored upside down
                    case 5 -> { nx = y; ny = x; }                  // transposed
                    case 6 -> { nx = h - 1 - y; ny = x; }          // needs a quarter turn clockwise
                    case 7 -> { nx = h - 1 - y; ny = w - 1 - x; }  // transversed
                    case 8 -> { nx = y; ny = w - 1 - x; }          // needs a quarter turn counter-clockwise
                    default -> throw new IllegalArgumentException("orientation " + orientation);
                }
                out[ny * ow + nx] = img.rgb()[y * w + x];
            }
        }
        return new RgbImage(ow, swap ? w : h, out);
    }

    private static boolean startsWith(byte[] b, int p, String s) {
        if (p < 0 || p + s.length() > b.length) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (b[p + i] != (byte) s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static int u8(byte[] b, int p) {
        return b[p] & 0xFF;
    }

    private static int u16be(byte[] b, int p) {
        return u8(b, p) << 8 | u8(b, p + 1);
    }

    private static long u32be(byte[] b, int p) {
        return (long) u16be(b, p) << 16 | u16be(b, p + 2);
    }

    private static long u32le(byte[] b, int p) {
        return u8(b, p) | u8(b, p + 1) << 8 | u8(b, p + 2) << 16 | (long) u8(b, p + 3) << 24;
    }

    private static int u16(byte[] b, int p, boolean little) {
        return little ? u8(b, p) | u8(b, p + 1) << 8 : u16be(b, p);
    }

    private static long u32(byte[] b, int p, boolean little) {
        return little ? u32le(b, p) : u32be(b, p);
    }
}
