package dev.mgmstream.model.vision;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** The fast PNG path gives ImageIO's pixels exactly, and leaves every file it does not fully understand alone. */
class PngFastPathTest {

    private static final long BUDGET = DecodeLimits.DEFAULT.maxPixels();

    private static RgbImage viaImageIo(byte[] png) throws Exception {
        return ImageDecoder.toRgb(ImageIO.read(new ByteArrayInputStream(png)));
    }

    private static void assertSame(RgbImage fast, RgbImage slow) {
        assertThat(fast).isNotNull();
        assertThat(fast.width()).isEqualTo(slow.width());
        assertThat(fast.height()).isEqualTo(slow.height());
        assertThat(fast.rgb()).isEqualTo(slow.rgb());
    }

    @Test
    void theBundledScenesDecodeAsImageIoDecodesThem() throws Exception {
        List<Path> scenes;
        try (Stream<Path> files = Files.list(Path.of("..", "samples", "scenes"))) {
            scenes = files.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
        assertThat(scenes).isNotEmpty();
        for (Path p : scenes) {
            byte[] png = Files.readAllBytes(p);
            assertSame(PngFastPath.decode(png, BUDGET), viaImageIo(png));
        }
    }

    @Test
    void everyFilterTypeInRgbAndRgbaWithTranslucentPixels() throws Exception {
        Random random = new Random(7);
        for (int channels : new int[] {3, 4}) {
            int w = 13;
            int h = 10;
            byte[] pixels = new byte[w * h * channels];
            for (int i = 0; i < pixels.length; i++) {
                // smooth with noise, so that the predictors differ from each other
                pixels[i] = (byte) ((i % (w * channels)) * 5 + random.nextInt(40));
            }
            byte[] png = png(w, h, channels, pixels, y -> y % 5, List.of(), false);
            assertSame(PngFastPath.decode(png, BUDGET), viaImageIo(png));
            // the stream split over several IDAT chunks
            byte[] split = png(w, h, channels, pixels, y -> (y + 2) % 5, List.of(), true);
            assertSame(PngFastPath.decode(split, BUDGET), viaImageIo(split));
        }
    }

    @Test
    void imageIoWritesWhatItReadsBack() throws Exception {
        BufferedImage img = new BufferedImage(31, 17, BufferedImage.TYPE_INT_ARGB);
        Random random = new Random(3);
        for (int y = 0; y < 17; y++) {
            for (int x = 0; x < 31; x++) {
                img.setRGB(x, y, random.nextInt());
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        byte[] png = out.toByteArray();
        assertSame(PngFastPath.decode(png, BUDGET), viaImageIo(png));
    }

    @Test
    void leavesToImageIoWhatItDoesNotFullyUnderstand() throws Exception {
        byte[] pixels = new byte[4 * 4 * 3];
        Arrays.fill(pixels, (byte) 100);
        byte[] good = png(4, 4, 3, pixels, y -> 0, List.of(), false);
        assertThat(PngFastPath.decode(good, BUDGET)).isNotNull();

        byte[] badCrc = good.clone();
        badCrc[8 + 8 + 5] ^= 1;                                    // a byte of IHDR's data
        assertThat(PngFastPath.decode(badCrc, BUDGET)).isNull();
        assertThat(PngFastPath.decode(Arrays.copyOf(good, good.length - 12), BUDGET)).isNull();   // no IEND
        assertThat(PngFastPath.decode(Arrays.copyOf(good, good.length - 20), BUDGET)).isNull();   // cut in IDAT
        assertThat(PngFastPath.decode(png(4, 4, 3, pixels, y -> 0, List.of("gAMA"), false), BUDGET)).isNull();
        assertThat(PngFastPath.decode(png(4, 4, 3, pixels, y -> 0, List.of("iCCP"), false), BUDGET)).isNull();
        assertThat(PngFastPath.decode(png(4, 4, 3, pixels, y -> 7, List.of(), false), BUDGET)).isNull();  // filter 7
        byte[] longer = Arrays.copyOf(pixels, pixels.length + 3 * 4);                          // a fifth row
        assertThat(PngFastPath.decode(pngDeclaring(4, 4, 3, longer, 5), BUDGET)).isNull();
        assertThat(PngFastPath.decode("GIF89a.....".getBytes(), BUDGET)).isNull();
    }

    @Test
    void theDeclaredSizeMeetsThePixelBudgetBeforeAnythingIsAllocated() {
        byte[] pixels = new byte[4 * 4 * 3];
        byte[] png = png(4, 4, 3, pixels, y -> 0, List.of(), false);
        ImageRejectedException e = org.assertj.core.api.Assertions.catchThrowableOfType(
                () -> PngFastPath.decode(png, 15), ImageRejectedException.class);
        assertThat(e.reason()).isEqualTo(ImageRejectedException.Reason.OVER_PIXEL_BUDGET);
    }

    // A small PNG writer: each row with the given filter, optional extra chunks before IDAT.

    private static byte[] png(int w, int h, int channels, byte[] pixels, java.util.function.IntUnaryOperator filterOf,
                              List<String> extra, boolean splitIdat) {
        return write(w, h, channels, filtered(w, h, channels, pixels, filterOf), extra, splitIdat);
    }

    /** A header of {@code h} rows over the filtered data of {@code rows} rows. */
    private static byte[] pngDeclaring(int w, int h, int channels, byte[] pixels, int rows) {
        return write(w, h, channels, filtered(w, rows, channels, pixels, y -> 0), List.of(), false);
    }

    private static byte[] filtered(int w, int h, int channels, byte[] px, java.util.function.IntUnaryOperator filterOf) {
        int stride = w * channels;
        byte[] raw = new byte[h * (stride + 1)];
        for (int y = 0; y < h; y++) {
            int f = filterOf.applyAsInt(y);
            raw[y * (stride + 1)] = (byte) f;
            for (int i = 0; i < stride; i++) {
                int x = px[y * stride + i] & 0xFF;
                int a = i >= channels ? px[y * stride + i - channels] & 0xFF : 0;
                int b = y > 0 ? px[(y - 1) * stride + i] & 0xFF : 0;
                int c = y > 0 && i >= channels ? px[(y - 1) * stride + i - channels] & 0xFF : 0;
                int predicted = switch (f) {
                    case 1 -> a;
                    case 2 -> b;
                    case 3 -> (a + b) >>> 1;
                    case 4 -> {
                        int p = a + b - c;
                        int pa = Math.abs(p - a);
                        int pb = Math.abs(p - b);
                        int pc = Math.abs(p - c);
                        yield pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                    }
                    default -> 0;
                };
                raw[y * (stride + 1) + 1 + i] = (byte) (x - predicted);
            }
        }
        return raw;
    }

    private static byte[] write(int w, int h, int channels, byte[] raw, List<String> extra, boolean splitIdat) {
        Deflater deflater = new Deflater();
        deflater.setInput(raw);
        deflater.finish();
        ByteArrayOutputStream z = new ByteArrayOutputStream();
        byte[] buf = new byte[256];
        while (!deflater.finished()) {
            z.write(buf, 0, deflater.deflate(buf));
        }
        deflater.end();
        byte[] idat = z.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        byte[] ihdr = new byte[13];
        putInt(ihdr, 0, w);
        putInt(ihdr, 4, h);
        ihdr[8] = 8;
        ihdr[9] = (byte) (channels == 3 ? 2 : 6);
        chunk(out, "IHDR", ihdr);
        for (String type : extra) {
            chunk(out, type, new byte[] {0, 0, (byte) 0xB1, (byte) 0x8F});
        }
        if (splitIdat) {
            int half = idat.length / 2;
            chunk(out, "IDAT", Arrays.copyOfRange(idat, 0, half));
            chunk(out, "IDAT", Arrays.copyOfRange(idat, half, idat.length));
        } else {
            chunk(out, "IDAT", idat);
        }
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] head = new byte[8];
        putInt(head, 0, data.length);
        System.arraycopy(type.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, head, 4, 4);
        out.writeBytes(head);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(head, 4, 4);
        crc.update(data);
        byte[] c = new byte[4];
        putInt(c, 0, (int) crc.getValue());
        out.writeBytes(c);
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}
