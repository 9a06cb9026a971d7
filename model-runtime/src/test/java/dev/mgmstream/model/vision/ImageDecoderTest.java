package dev.mgmstream.model.vision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.mgmstream.model.vision.HostileCorpus.Sample;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every corpus file is decoded or rejected for its expected reason, and some decodes are checked pixel by pixel. */
class ImageDecoderTest {

    private final ImageDecoder decoder = new ImageDecoder(HostileCorpus.LIMITS);

    static Stream<Sample> corpus() {
        return HostileCorpus.all().stream();
    }

    @Test
    void theCorpusHasAtLeastTwentyFiveKinds() {
        assertThat(HostileCorpus.all()).hasSizeGreaterThanOrEqualTo(25);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void eachFileIsDecodedOrRejectedWithItsReason(Sample sample) throws Exception {
        if (sample.expect().encoded()) {
            RgbImage img = decoder.decode(sample.bytes());
            assertThat(img.width()).isEqualTo(sample.expect().width());
            assertThat(img.height()).isEqualTo(sample.expect().height());
        } else {
            ImageRejectedException e = catchThrowableOfType(() -> decoder.decode(sample.bytes()),
                    ImageRejectedException.class);
            assertThat(e).as("%s must be rejected", sample.kind()).isNotNull();
            assertThat(e.reason()).as(e.getMessage()).isIn(sample.expect().reasons());
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    @Test
    void rejectionsSayWhatTheBytesLookLike() {
        assertThat(message("PDF document")).contains("PDF").contains("accepted formats are");
        assertThat(message("SVG drawing")).contains("SVG");
        assertThat(message("text named .png")).contains("text");
        assertThat(message("WBMP (decodable, not accepted)")).contains("WBMP");
        assertThat(message("PNG declaring 30000 x 30000")).contains("30000 x 30000").contains("budget");
        assertThat(message("GIF with a 65535 x 65535 logical screen")).contains("logical screen");
    }

    private String message(String kind) {
        Sample s = HostileCorpus.all().stream().filter(x -> x.kind().equals(kind)).findFirst().orElseThrow();
        return catchThrowableOfType(() -> decoder.decode(s.bytes()), ImageRejectedException.class).getMessage();
    }

    @Test
    void exifOrientationSixTurnsTheImageAQuarterClockwise() throws Exception {
        byte[] png = HostileCorpus.write(HostileCorpus.scene(64, 48), "png");
        RgbImage upright = decoder.decode(png);
        // The same pixels in a JPEG would be lossy; compare the red corner marker's position instead.
        RgbImage turned = decoder.decode(HostileCorpus.withExifOrientation(
                HostileCorpus.write(HostileCorpus.scene(64, 48), "jpeg"), 6));
        assertThat(upright.get(2, 2) >> 16 & 0xFF).isGreaterThan(200);
        // top-left of the original ends up at the top-right after a clockwise quarter turn
        assertThat(turned.get(turned.width() - 3, 2) >> 16 & 0xFF).isGreaterThan(200);
        assertThat(turned.get(2, 2) >> 16 & 0xFF).isLessThan(100);
    }

    @Test
    void pngExifChunksAreHonouredToo() throws Exception {
        byte[] png = HostileCorpus.write(HostileCorpus.scene(64, 48), "png");
        byte[] tiff = java.nio.ByteBuffer.allocate(26).put(new byte[] {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0}).array(); // little-endian IFD0: orientation 8
        java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(12 + tiff.length);
        chunk.putInt(tiff.length).put("eXIf".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)).put(tiff);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(chunk.array(), 4, 4 + tiff.length);
        chunk.putInt((int) crc.getValue());
        byte[] withExif = new byte[png.length + chunk.capacity()];
        System.arraycopy(png, 0, withExif, 0, 33); // signature and IHDR
        System.arraycopy(chunk.array(), 0, withExif, 33, chunk.capacity());
        System.arraycopy(png, 33, withExif, 33 + chunk.capacity(), png.length - 33);
        RgbImage turned = decoder.decode(withExif);
        assertThat(turned.width()).isEqualTo(48);
        assertThat(turned.height()).isEqualTo(64);
        // a quarter turn counter-clockwise brings the top-left marker to the bottom-left
        assertThat(turned.get(2, turned.height() - 3) >> 16 & 0xFF).isGreaterThan(200);
    }

    @Test
    void everyOrientationMapsCornersAsTheStandardSays() {
        // 2 x 1 image: A B
        RgbImage img = new RgbImage(2, 1, new int[] {0xA, 0xB});
        assertThat(ExifOrientation.apply(img, 2).rgb()).containsExactly(0xB, 0xA);
        assertThat(ExifOrientation.apply(img, 3).rgb()).containsExactly(0xB, 0xA);
        RgbImage six = ExifOrientation.apply(img, 6);
        assertThat(six.width()).isEqualTo(1);
        assertThat(six.rgb()).containsExactly(0xA, 0xB);
        assertThat(ExifOrientation.apply(img, 8).rgb()).containsExactly(0xB, 0xA);
        assertThat(ExifOrientation.apply(img, 5).rgb()).containsExactly(0xA, 0xB);
        assertThat(ExifOrientation.apply(img, 7).rgb()).containsExactly(0xB, 0xA);
    }

    @Test
    void alphaIsCompositedOntoWhite() throws Exception {
        RgbImage img = decoder.decode(HostileCorpus.write(HostileCorpus.translucent(32, 32), "png"));
        assertThat(img.get(0, 0)).isEqualTo(0xFFFFFF);          // fully transparent red -> white
        assertThat(img.get(31, 0)).isEqualTo(0x7F7F7F);         // half-transparent black -> mid grey
    }

    @Test
    void greyIsCopiedNotGammaConverted() throws Exception {
        RgbImage img = decoder.decode(HostileCorpus.write(HostileCorpus.grey(HostileCorpus.scene(64, 48)), "png"));
        assertThat(img.get(10, 3)).isEqualTo(0x2B2B2B); // sample 43 stays 43 in each channel
        RgbImage deep = decoder.decode(HostileCorpus.write(HostileCorpus.grey16(40, 30), "png"));
        int expected = (int) Math.round((5 + 5) * 900 * 255.0 / 65535);
        assertThat(deep.get(5, 5) & 0xFF).isEqualTo(expected);
    }

    @Test
    void palettesAndSixteenBitColourKeepTheirColours() throws Exception {
        RgbImage pal = decoder.decode(HostileCorpus.write(HostileCorpus.palette(32, 32), "png"));
        assertThat(pal.get(0, 0)).isEqualTo(0x000000);
        assertThat(pal.get(8, 0)).isEqualTo(0xFF0000);
        RgbImage deep = decoder.decode(HostileCorpus.write(HostileCorpus.rgb16(40, 30), "png"));
        assertThat(deep.get(10, 0) >> 16 & 0xFF).isCloseTo(16000 * 255 / 65535, org.assertj.core.data.Offset.offset(1));
    }

    @Test
    void cmykAndLosslessWebpDecodeToPlausibleColours() throws Exception {
        RgbImage webp = decoder.decode(HostileCorpus.losslessWebp(24, 16, 200, 30, 90));
        assertThat(webp.get(5, 5)).isEqualTo(200 << 16 | 30 << 8 | 90);
        RgbImage cmyk = decoder.decode(HostileCorpus.cmykJpeg(64, 48));
        assertThat(cmyk.width()).isEqualTo(64);
    }

    @Test
    void theByteCapAppliesBeforeAnythingElse() {
        ImageDecoder tiny = new ImageDecoder(new DecodeLimits(10, 100));
        assertThatThrownBy(() -> tiny.decode(new byte[11]))
                .isInstanceOfSatisfying(ImageRejectedException.class, e -> assertThat(e.reason())
                        .isEqualTo(Reason.TOO_MANY_BYTES));
    }
}
