package dev.mgmstream.model.vision;

import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * Unusual and hostile image files, generated here so that the tests own every byte: each with what the
 * decoder must make of it. Used by the decoder's tests and, through the test jar, by the encoders stage's.
 */
public final class HostileCorpus {

    /** Limits the corpus is written against: a 2 MiB file cap and a 4 megapixel budget. */
    public static final DecodeLimits LIMITS = new DecodeLimits(2L << 20, 4_000_000L);

    /** What must happen to a sample: encoded at a known size, or rejected for one of some reasons. */
    public record Expect(boolean encoded, Set<Reason> reasons, int width, int height) {
        static Expect encoded(int width, int height) {
            return new Expect(true, Set.of(), width, height);
        }

        static Expect rejected(Reason first, Reason... more) {
            return new Expect(false, EnumSet.of(first, more), -1, -1);
        }
    }

    public record Sample(String kind, String fileName, byte[] bytes, Expect expect) {
        @Override
        public String toString() {
            return kind;
        }
    }

    private HostileCorpus() {
    }

    private static List<Sample> built;

    /** The corpus, generated once per JVM (the panorama alone takes a moment to write). */
    public static synchronized List<Sample> all() {
        if (built == null) {
            try {
                built = build();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return built;
    }

    private static List<Sample> build() throws IOException {
        List<Sample> s = new ArrayList<>();
        BufferedImage scene = scene(64, 48);
        byte[] jpeg = write(scene, "jpeg");
        byte[] png = write(scene, "png");

        s.add(new Sample("zero bytes", "empty.png", new byte[0], Expect.rejected(Reason.EMPTY)));
        byte[] random = new byte[4096];
        new Random(42).nextBytes(random);
        s.add(new Sample("random bytes", "random.jpg", random, Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("text named .png", "notes.png", ascii("This is not a picture, just some notes.\n"),
                Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("SVG drawing", "logo.svg", ascii("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""
                + " width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"red\"/></svg>\n"),
                Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("PDF document", "scan.pdf", ascii("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"),
                Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("HTML page", "image.jpg", ascii("<!DOCTYPE html><html><body>404 Not Found</body></html>"),
                Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        byte[] heic = new byte[64];
        System.arraycopy(ascii("\0\0\0\u0018ftypheic"), 0, heic, 0, 12);
        s.add(new Sample("HEIC header", "photo.heic", heic, Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("ZIP archive", "images.zip", zip(), Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("WBMP (decodable, not accepted)", "icon.wbmp", write(binary(16, 16), "wbmp"),
                Expect.rejected(Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("truncated JPEG", "cut.jpg", Arrays.copyOf(jpeg, jpeg.length / 2),
                Expect.rejected(Reason.TRUNCATED, Reason.CORRUPT)));
        s.add(new Sample("JPEG header then garbage", "garbage.jpg", jpegHeaderThenGarbage(),
                Expect.rejected(Reason.CORRUPT, Reason.TRUNCATED, Reason.UNSUPPORTED_FORMAT)));
        s.add(new Sample("truncated PNG", "cut.png", Arrays.copyOf(png, png.length / 2),
                Expect.rejected(Reason.TRUNCATED, Reason.CORRUPT)));
        s.add(new Sample("PNG with corrupt pixel data", "bad-idat.png", corruptIdat(png),
                Expect.rejected(Reason.CORRUPT, Reason.TRUNCATED)));
        s.add(new Sample("PNG declaring 30000 x 30000", "bomb.png", pngDeclaring(png, 30000, 30000),
                Expect.rejected(Reason.OVER_PIXEL_BUDGET)));
        s.add(new Sample("JPEG declaring 60000 x 60000", "bomb.jpg", jpegDeclaring(jpeg, 60000, 60000),
                Expect.rejected(Reason.OVER_PIXEL_BUDGET)));
        s.add(new Sample("GIF with a 65535 x 65535 logical screen", "screen.gif", gifScreen(write(scene, "gif")),
                Expect.rejected(Reason.OVER_PIXEL_BUDGET)));
        byte[] bmp = write(scene, "bmp");
        s.add(new Sample("BMP declaring 50000 x 50000", "bomb.bmp", bmpDeclaring(bmp, 50000, 50000),
                Expect.rejected(Reason.OVER_PIXEL_BUDGET)));
        s.add(new Sample("BMP with a negative width", "negative.bmp", bmpDeclaring(bmp, -64, 48),
                Expect.rejected(Reason.CORRUPT, Reason.TRUNCATED)));
        byte[] big = Arrays.copyOf(png, (int) LIMITS.maxBytes() + 1024);
        s.add(new Sample("file over the byte cap", "huge.png", big, Expect.rejected(Reason.TOO_MANY_BYTES)));

        s.add(new Sample("baseline JPEG", "scene.jpg", jpeg, Expect.encoded(64, 48)));
        s.add(new Sample("progressive JPEG", "progressive.jpg", progressiveJpeg(scene), Expect.encoded(64, 48)));
        s.add(new Sample("greyscale JPEG", "grey.jpg", write(grey(scene), "jpeg"), Expect.encoded(64, 48)));
        byte[] fourChannels = cmykJpeg(64, 48);
        s.add(new Sample("CMYK JPEG (Adobe)", "cmyk.jpg", withAdobe(fourChannels, 0), Expect.encoded(64, 48)));
        s.add(new Sample("CMYK JPEG without Adobe marker", "cmyk-bare.jpg", fourChannels, Expect.encoded(64, 48)));
        s.add(new Sample("YCCK JPEG", "ycck.jpg", withAdobe(fourChannels, 2), Expect.encoded(64, 48)));
        s.add(new Sample("EXIF-rotated JPEG (orientation 6)", "rotated.jpg", withExifOrientation(jpeg, 6),
                Expect.encoded(48, 64)));
        byte[] trailing = Arrays.copyOf(jpeg, jpeg.length + 300);
        s.add(new Sample("JPEG with trailing bytes", "trailing.jpg", trailing, Expect.encoded(64, 48)));
        s.add(new Sample("8-bit PNG", "scene.png", png, Expect.encoded(64, 48)));
        s.add(new Sample("16-bit RGB PNG", "deep.png", write(rgb16(40, 30), "png"), Expect.encoded(40, 30)));
        s.add(new Sample("16-bit greyscale PNG", "deep-grey.png", write(grey16(40, 30), "png"), Expect.encoded(40, 30)));
        s.add(new Sample("palette PNG", "palette.png", write(palette(32, 32), "png"), Expect.encoded(32, 32)));
        s.add(new Sample("PNG with alpha", "alpha.png", write(translucent(32, 32), "png"), Expect.encoded(32, 32)));
        s.add(new Sample("interlaced PNG", "interlaced.png", interlacedPng(scene), Expect.encoded(64, 48)));
        s.add(new Sample("1 x 1 PNG", "dot.png", write(scene(1, 1), "png"), Expect.encoded(1, 1)));
        s.add(new Sample("2000 x 10 panorama PNG", "panorama.png", write(scene(2000, 10), "png"), Expect.encoded(2000, 10)));
        s.add(new Sample("20000 x 200 panorama PNG (a square of it would not fit the heap)", "strip.png",
                write(scene(20000, 200), "png"), Expect.encoded(20000, 200)));
        s.add(new Sample("animated GIF", "anim.gif", animatedGif(), Expect.encoded(32, 24)));
        s.add(new Sample("BMP", "scene.bmp", bmp, Expect.encoded(64, 48)));
        s.add(new Sample("TIFF", "scene.tif", write(scene, "tiff"), Expect.encoded(64, 48)));
        s.add(new Sample("lossless WebP", "flat.webp", losslessWebp(24, 16, 200, 30, 90), Expect.encoded(24, 16)));
        return List.copyOf(s);
    }

    static BufferedImage scene(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        for (int x = 0; x < w; x++) {
            g.setColor(new Color((x * 255) / Math.max(1, w - 1), 90, 160));
            g.drawLine(x, 0, x, h);
        }
        g.setColor(Color.RED);
        g.fillRect(0, 0, Math.max(1, w / 4), Math.max(1, h / 4)); // marks the top-left corner
        g.dispose();
        return img;
    }

    static byte[] write(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(img, format, out)) {
            throw new IllegalStateException("no " + format + " writer for " + img);
        }
        return out.toByteArray();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] zip() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (java.util.zip.ZipOutputStream z = new java.util.zip.ZipOutputStream(bytes)) {
            z.putNextEntry(new java.util.zip.ZipEntry("a.txt"));
            z.write(ascii("hello"));
            z.closeEntry();
        }
        return bytes.toByteArray();
    }

    private static BufferedImage binary(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_BINARY);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w / 2, h);
        g.dispose();
        return img;
    }

    static BufferedImage grey(BufferedImage src) {
        BufferedImage img = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < src.getHeight(); y++) {
            for (int x = 0; x < src.getWidth(); x++) {
                r.setSample(x, y, 0, (x * 4 + y) & 0xFF);
            }
        }
        return img;
    }

    private static byte[] jpegHeaderThenGarbage() {
        byte[] b = new byte[2048];
        new Random(7).nextBytes(b);
        b[0] = (byte) 0xFF;
        b[1] = (byte) 0xD8;
        b[2] = (byte) 0xFF;
        b[3] = (byte) 0xE0;
        return b;
    }

    /** Flips bytes in the middle of the first IDAT chunk (the CRC is fixed up, so only inflating fails). */
    private static byte[] corruptIdat(byte[] png) {
        byte[] b = png.clone();
        int p = 8;
        while (p + 8 < b.length) {
            int len = ByteBuffer.wrap(b, p, 4).getInt();
            String type = new String(b, p + 4, 4, StandardCharsets.ISO_8859_1);
            if (type.equals("IDAT")) {
                for (int i = p + 8 + 2; i < p + 8 + len - 4; i += 3) {
                    b[i] = (byte) (b[i] ^ 0x5A);
                }
                fixCrc(b, p, len);
                return b;
            }
            p += 12 + len;
        }
        throw new IllegalStateException("no IDAT");
    }

    private static byte[] pngDeclaring(byte[] png, int w, int h) {
        byte[] b = png.clone();
        ByteBuffer.wrap(b, 16, 8).putInt(w).putInt(h);
        fixCrc(b, 8, 13);
        return b;
    }

    private static void fixCrc(byte[] b, int chunkStart, int len) {
        CRC32 crc = new CRC32();
        crc.update(b, chunkStart + 4, 4 + len);
        ByteBuffer.wrap(b, chunkStart + 8 + len, 4).putInt((int) crc.getValue());
    }

    private static byte[] jpegDeclaring(byte[] jpeg, int w, int h) {
        byte[] b = jpeg.clone();
        for (int p = 2; p + 9 < b.length; ) {
            int marker = b[p + 1] & 0xFF;
            int len = (b[p + 2] & 0xFF) << 8 | (b[p + 3] & 0xFF);
            if (marker == 0xC0 || marker == 0xC2) {
                b[p + 5] = (byte) (h >> 8);
                b[p + 6] = (byte) h;
                b[p + 7] = (byte) (w >> 8);
                b[p + 8] = (byte) w;
                return b;
            }
            p += 2 + len;
        }
        throw new IllegalStateException("no SOF");
    }

    private static byte[] gifScreen(byte[] gif) {
        byte[] b = gif.clone();
        b[6] = (byte) 0xFF;
        b[7] = (byte) 0xFF;
        b[8] = (byte) 0xFF;
        b[9] = (byte) 0xFF;
        return b;
    }

    private static byte[] bmpDeclaring(byte[] bmp, int w, int h) {
        byte[] b = bmp.clone();
        ByteBuffer.wrap(b, 18, 8).order(ByteOrder.LITTLE_ENDIAN).putInt(w).putInt(h);
        return b;
    }

    private static byte[] progressiveJpeg(BufferedImage img) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = writer.getDefaultWriteParam();
        p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
        return writeWith(writer, new IIOImage(img, null, null), p);
    }

    private static byte[] interlacedPng(BufferedImage img) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        ImageWriteParam p = writer.getDefaultWriteParam();
        p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
        return writeWith(writer, new IIOImage(img, null, null), p);
    }

    private static byte[] writeWith(ImageWriter writer, IIOImage image, ImageWriteParam p) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(null, image, p);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    /** A four-channel raster written without a colour space: the JPEG writer marks it Adobe CMYK. */
    static byte[] cmykJpeg(int w, int h) throws IOException {
        WritableRaster r = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, w, h, 4, null);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setPixel(x, y, new int[] {x * 3 & 0xFF, 40, y * 5 & 0xFF, 20});
            }
        }
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("jpeg");
        ImageWriter writer = null;
        while (writers.hasNext()) {
            ImageWriter candidate = writers.next();
            if (candidate.canWriteRasters()) {
                writer = candidate;
                break;
            }
        }
        if (writer == null) {
            throw new IllegalStateException("no JPEG writer for rasters");
        }
        return writeWith(writer, new IIOImage(r, null, null), writer.getDefaultWriteParam());
    }

    /**
     * Inserts an Adobe APP14 segment after SOI: transform 0 says the four components are CMYK, 2 says YCCK
     * (the writer leaves it out, and without it a decoder has to guess).
     */
    static byte[] withAdobe(byte[] jpeg, int transform) {
        ByteBuffer seg = ByteBuffer.allocate(16);
        seg.put((byte) 0xFF).put((byte) 0xEE).putShort((short) 14).put(ascii("Adobe")).putShort((short) 100)
                .putShort((short) 0).putShort((short) 0).put((byte) transform);
        byte[] out = new byte[jpeg.length + 16];
        System.arraycopy(jpeg, 0, out, 0, 2);
        System.arraycopy(seg.array(), 0, out, 2, 16);
        System.arraycopy(jpeg, 2, out, 18, jpeg.length - 2);
        return out;
    }

    /** Inserts an APP1 Exif segment with an orientation tag right after SOI. */
    static byte[] withExifOrientation(byte[] jpeg, int orientation) {
        ByteBuffer tiff = ByteBuffer.allocate(8 + 2 + 12 + 4).order(ByteOrder.BIG_ENDIAN);
        tiff.put((byte) 'M').put((byte) 'M').putShort((short) 42).putInt(8);
        tiff.putShort((short) 1);
        tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        tiff.putInt(0);
        byte[] payload = tiff.array();
        int len = 2 + 6 + payload.length;
        ByteBuffer seg = ByteBuffer.allocate(2 + len);
        seg.put((byte) 0xFF).put((byte) 0xE1).putShort((short) len).put(ascii("Exif\0\0")).put(payload);
        byte[] out = new byte[jpeg.length + seg.capacity()];
        System.arraycopy(jpeg, 0, out, 0, 2);
        System.arraycopy(seg.array(), 0, out, 2, seg.capacity());
        System.arraycopy(jpeg, 2, out, 2 + seg.capacity(), jpeg.length - 2);
        return out;
    }

    static BufferedImage rgb16(int w, int h) {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false,
                java.awt.Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster r = cm.createCompatibleWritableRaster(w, h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setPixel(x, y, new int[] {x * 1600, 30000, y * 2000});
            }
        }
        return new BufferedImage(cm, r, false, null);
    }

    static BufferedImage grey16(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.getRaster().setSample(x, y, 0, (x + y) * 900);
            }
        }
        return img;
    }

    static BufferedImage palette(int w, int h) {
        byte[] r = {0, (byte) 255, 0, (byte) 200};
        byte[] g = {0, 0, (byte) 255, (byte) 200};
        byte[] b = {0, 0, 0, 50};
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(2, 4, r, g, b));
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.getRaster().setSample(x, y, 0, (x / 8 + y / 8) % 4);
            }
        }
        return img;
    }

    /** Fully transparent on the left half, half-transparent black on the right. */
    static BufferedImage translucent(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, x < w / 2 ? 0x00FF0000 : 0x80000000);
            }
        }
        return img;
    }

    private static byte[] animatedGif() throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.prepareWriteSequence(null);
            for (int i = 0; i < 3; i++) {
                BufferedImage frame = new BufferedImage(32, 24, BufferedImage.TYPE_INT_RGB);
                Graphics2D g = frame.createGraphics();
                g.setColor(new Color(80 * i, 100, 200 - 50 * i));
                g.fillRect(0, 0, 32, 24);
                g.dispose();
                ImageWriteParam p = writer.getDefaultWriteParam();
                IIOMetadata meta = writer.getDefaultImageMetadata(
                        ImageTypeSpecifier.createFromRenderedImage(frame), p);
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(meta.getNativeMetadataFormatName());
                IIOMetadataNode gce = new IIOMetadataNode("GraphicControlExtension");
                gce.setAttribute("disposalMethod", "none");
                gce.setAttribute("userInputFlag", "FALSE");
                gce.setAttribute("transparentColorFlag", "FALSE");
                gce.setAttribute("delayTime", "10");
                gce.setAttribute("transparentColorIndex", "0");
                root.appendChild(gce);
                meta.mergeTree(meta.getNativeMetadataFormatName(), root);
                writer.writeToSequence(new IIOImage(frame, null, meta), p);
            }
            writer.endWriteSequence();
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    /**
     * A lossless (VP8L) WebP of one colour, written bit by bit: no transforms, no colour cache, and five
     * one-symbol prefix codes, so every pixel takes zero bits. No Java library writes WebP.
     */
    static byte[] losslessWebp(int w, int h, int red, int green, int blue) {
        BitWriter bits = new BitWriter();
        bits.put(0x2F, 8);            // VP8L signature
        bits.put(w - 1, 14);
        bits.put(h - 1, 14);
        bits.put(0, 1);               // alpha not used
        bits.put(0, 3);               // version 0
        bits.put(0, 1);               // no transform
        bits.put(0, 1);               // no colour cache
        bits.put(0, 1);               // no meta prefix codes
        for (int symbol : new int[] {green, red, blue, 255}) {
            bits.put(1, 1);           // simple code
            bits.put(0, 1);           // one symbol
            bits.put(1, 1);           // eight-bit symbol
            bits.put(symbol, 8);
        }
        bits.put(1, 1);               // distance code: simple, one one-bit symbol, 0
        bits.put(0, 1);
        bits.put(0, 1);
        bits.put(0, 1);
        // Trailing zero bytes: bit readers fetch ahead by whole words, and the image data ends after ~10 bytes.
        byte[] data = Arrays.copyOf(bits.toBytes(), 64);
        int chunk = data.length + (data.length & 1);
        ByteBuffer b = ByteBuffer.allocate(12 + 8 + chunk).order(ByteOrder.LITTLE_ENDIAN);
        b.put(ascii("RIFF")).putInt(4 + 8 + chunk).put(ascii("WEBP")).put(ascii("VP8L")).putInt(data.length).put(data);
        return b.array();
    }

    private static final class BitWriter {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private int acc;
        private int n;

        void put(int value, int count) {
            for (int i = 0; i < count; i++) {
                acc |= (value >> i & 1) << n;
                if (++n == 8) {
                    out.write(acc);
                    acc = 0;
                    n = 0;
                }
            }
        }

        byte[] toBytes() {
            if (n > 0) {
                out.write(acc);
                acc = 0;
                n = 0;
            }
            return out.toByteArray();
        }
    }
}
