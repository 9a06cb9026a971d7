package dev.mgmstream.model.vision;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mgmstream.model.ModelManifest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Padding, Pillow-compatible resizing, normalisation, LR derivation and the HD views, without a model. */
class PreprocessorTest {

    static ModelManifest.Vision vision(int hr, int lr, String lrSource, String lrResize, int hdGrid, boolean mining) {
        ModelManifest.Preprocess p = new ModelManifest.Preprocess(true, List.of(127, 127, 127),
                new ModelManifest.ViewSpec(hr, "bicubic", null), new ModelManifest.ViewSpec(lr, lrResize, lrSource),
                1 / 255.0, List.of(0.5, 0.5, 0.5), List.of(0.5, 0.5, 0.5), "NCHW");
        return new ModelManifest.Vision(9, hdGrid, new ModelManifest.Mining(mining, 16), p, null,
                mining ? new ModelManifest.Component("hr.onnx", null, null) : null, null, "float16");
    }

    /** A 7 x 5 test card and Pillow 9.4's {@code resize(..., Image.BICUBIC)} of it, packed 0xRRGGBB. */
    static RgbImage card() {
        int[] px = new int[35];
        for (int y = 0; y < 5; y++) {
            for (int x = 0; x < 7; x++) {
                int r = (x * 37 + y * 11) % 256;
                int g = (x * x * 5 + y * 40) % 256;
                int b = Math.floorMod(255 - x * 30 - y * 7, 256);
                px[y * 7 + x] = r << 16 | g << 8 | b;
            }
        }
        return new RgbImage(7, 5, px);
    }

    @Test
    void bicubicResizeMatchesPillowDownAndUp() {
        assertThat(Resampler.resize(card(), 3, 4, Resampler.Filter.BICUBIC).rgb()).containsExactly(
                1902824, 7419044, 12949344, 2767327, 8284571, 13802839, 3698135, 9216403, 14913871, 4562638,
                10537098, 10381894);
        int[] up = Resampler.resize(card(), 12, 9, Resampler.Filter.BICUBIC).rgb();
        assertThat(up).startsWith(255, 590072, 2228963, 3672530, 5117120, 6496943, 7943069, 9324684, 10772602,
                12221545, 13869396, 14726474, 133886);
        assertThat(up[up.length - 1]).isEqualTo(23852);
        assertThat(up[12 * 7 + 10]).isEqualTo(8342073);
    }

    @Test
    void resizingAVirtuallyPaddedImageEqualsResizingThePaddedSquare() {
        Preprocessor pre = new Preprocessor(vision(384, 96, "hr", "area", 0, true));
        java.util.Random r = new java.util.Random(3);
        for (int[] size : new int[][] {{37, 20}, {9, 31}, {120, 7}}) {
            int[] px = new int[size[0] * size[1]];
            for (int i = 0; i < px.length; i++) {
                px[i] = r.nextInt(1 << 24);
            }
            RgbImage img = new RgbImage(size[0], size[1], px);
            RgbImage square = pre.expandToSquare(img);
            int side = square.width();
            for (int target : new int[] {16, 50}) {
                RgbImage virtual = Resampler.resizePadded(img, side, side, (side - img.width()) / 2,
                        (side - img.height()) / 2, 0x7F7F7F, target, target, Resampler.Filter.BICUBIC);
                assertThat(virtual.rgb()).as("%dx%d to %d", size[0], size[1], target)
                        .containsExactly(Resampler.resize(square, target, target, Resampler.Filter.BICUBIC).rgb());
            }
        }
    }

    @Test
    void aLongPanoramaIsNotMaterialisedAsASquare() {
        // 20000 x 1000 padded to a square would be 400 million pixels; the resize needs a few megabytes more.
        Preprocessor pre = new Preprocessor(vision(384, 96, "hr", "area", 0, true));
        PixelViews v = pre.apply(RgbImage.filled(20000, 1000, 0xFFFFFF));
        assertThat(v.hr()).hasSize(3 * 384 * 384);
        assertThat(v.hr()[192 * 384 + 10]).isEqualTo(1.0f); // the white strip in the middle row
        assertThat(v.hr()[10]).isCloseTo(127 * 2 / 255f - 1, org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void expandToSquareCentresThePictureOnThePadColour() {
        Preprocessor pre = new Preprocessor(vision(384, 96, "hr", "area", 0, true));
        RgbImage wide = RgbImage.filled(5, 2, 0xFF0000);
        RgbImage sq = pre.expandToSquare(wide);
        assertThat(sq.width()).isEqualTo(5);
        assertThat(sq.height()).isEqualTo(5);
        // (5 - 2) // 2 = 1 row of padding above, 2 below
        assertThat(sq.get(0, 0)).isEqualTo(0x7F7F7F);
        assertThat(sq.get(0, 1)).isEqualTo(0xFF0000);
        assertThat(sq.get(4, 2)).isEqualTo(0xFF0000);
        assertThat(sq.get(0, 3)).isEqualTo(0x7F7F7F);
        RgbImage tall = pre.expandToSquare(RgbImage.filled(1, 4, 0x00FF00));
        assertThat(tall.get(1, 0)).isEqualTo(0x00FF00);
        assertThat(tall.get(0, 0)).isEqualTo(0x7F7F7F);
    }

    @Test
    void normalisesAndPoolsTheLrViewFromTheHrView() {
        Preprocessor pre = new Preprocessor(vision(8, 2, "hr", "area", 0, true));
        int[] px = new int[64];
        for (int i = 0; i < 64; i++) {
            px[i] = (i % 8 < 4 ? 255 : 0) << 16; // red on the left half
        }
        PixelViews v = pre.apply(new RgbImage(8, 8, px));
        assertThat(v.hr()).hasSize(3 * 64);
        assertThat(v.hr()[0]).isEqualTo(1.0f);
        assertThat(v.hr()[7]).isEqualTo(-1.0f);
        assertThat(v.hr()[64]).isEqualTo(-1.0f); // green plane
        assertThat(v.lr()).hasSize(3 * 4);
        assertThat(v.lr()[0]).isEqualTo(1.0f);
        assertThat(v.lr()[1]).isEqualTo(-1.0f);
    }

    @Test
    void resizesWhenTheImageIsNotAtTheHrSize() {
        Preprocessor pre = new Preprocessor(vision(384, 96, "hr", "area", 0, true));
        PixelViews v = pre.apply(RgbImage.filled(100, 50, 0x336699));
        assertThat(v.hr()).hasSize(3 * 384 * 384);
        assertThat(v.lr()).hasSize(3 * 96 * 96);
        // a flat colour stays flat through bicubic resizing; the pad rows are the pad colour
        float padRed = 127 * 2 / 255f - 1;
        assertThat(v.hr()[0]).isCloseTo(padRed, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(v.hr()[192 * 384 + 192]).isCloseTo(0x33 * 2 / 255f - 1, org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void hdGridGivesTheGlobalViewThenTheTiles() {
        Preprocessor pre = new Preprocessor(vision(768, 96, "hr", "area", 2, true));
        assertThat(pre.lrViewsPerImage()).isEqualTo(5);
        int[] px = new int[768 * 768];
        for (int y = 0; y < 768; y++) {
            for (int x = 0; x < 768; x++) {
                px[y * 768 + x] = (x >= 384 && y < 384) ? 0xFFFFFF : 0; // white top-right quadrant
            }
        }
        PixelViews v = pre.apply(new RgbImage(768, 768, px));
        int plane = 3 * 96 * 96;
        assertThat(v.lr()).hasSize(5 * plane);
        assertThat(v.hr()).hasSize(3 * 768 * 768);
        // global view: top-right white, top-left black
        assertThat(v.lr()[95]).isEqualTo(1.0f);
        assertThat(v.lr()[0]).isEqualTo(-1.0f);
        // tiles row-major after it: tile 1 (top-right) all white, tile 0 (top-left) all black
        assertThat(v.lr()[plane + 50]).isEqualTo(-1.0f);
        assertThat(v.lr()[2 * plane + 50]).isEqualTo(1.0f);
        assertThat(v.lr()[3 * plane + 50]).isEqualTo(-1.0f);
    }

    @Test
    void lrOnlyModelsResizeTheImageForTheLrViewAndHaveNoHrView() {
        Preprocessor pre = new Preprocessor(vision(384, 96, null, "bicubic", 0, false));
        PixelViews v = pre.apply(RgbImage.filled(200, 200, 0xFFFFFF));
        assertThat(v.hr()).isNull();
        assertThat(v.lr()).hasSize(3 * 96 * 96).containsOnly(1.0f);
    }

    @Test
    void hrFeaturesSplitIntoAPooledWholeAndTiles() {
        // one image, one channel, 4 x 4 map with values 0..15, grid 2
        float[] in = new float[16];
        for (int i = 0; i < 16; i++) {
            in[i] = i;
        }
        float[] out = VisionEncoder.splitForGrid(in, 1, 1, 4, 4, 2);
        assertThat(out).hasSize(5 * 4);
        assertThat(out).startsWith(2.5f, 4.5f, 10.5f, 12.5f); // pooled whole
        assertThat(java.util.Arrays.copyOfRange(out, 4, 8)).containsExactly(0, 1, 4, 5);
        assertThat(java.util.Arrays.copyOfRange(out, 8, 12)).containsExactly(2, 3, 6, 7);
        assertThat(java.util.Arrays.copyOfRange(out, 16, 20)).containsExactly(10, 11, 14, 15);
    }

    @Test
    void halfPrecisionRoundsToNearestEven() {
        assertThat(TensorBytes.toHalf(1.0f)).isEqualTo((short) 0x3C00);
        assertThat(TensorBytes.toHalf(-2.0f)).isEqualTo((short) 0xC000);
        assertThat(TensorBytes.toHalf(65504f)).isEqualTo((short) 0x7BFF);
        assertThat(TensorBytes.toHalf(1e6f)).isEqualTo((short) 0x7C00);
        assertThat(TensorBytes.toHalf(5.96e-8f)).isEqualTo((short) 0x0001); // smallest subnormal
        assertThat(TensorBytes.toHalf(1.0f + 0x1p-11f)).isEqualTo((short) 0x3C00); // tie to even
        assertThat(TensorBytes.toHalf(1.0f + 0x1p-11f + 0x1p-20f)).isEqualTo((short) 0x3C01);
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 10_000; i++) {
            float f = (float) r.nextGaussian() * 10;
            float back = TensorBytes.fromHalf(TensorBytes.toHalf(f));
            assertThat(Math.abs(back - f)).isLessThanOrEqualTo(Math.abs(f) * 0x1p-11f + 1e-7f);
        }
        float[] v = {0.5f, -3.25f, 100f};
        assertThat(TensorBytes.decode(TensorBytes.encode(v, "float16"), "float16")).containsExactly(v);
        assertThat(TensorBytes.decode(TensorBytes.encode(v, "float32"), "float32")).containsExactly(v);
        assertThat(TensorBytes.decode(TensorBytes.encode(v, "bfloat16"), "bfloat16")).containsExactly(v);
    }

    /** A 3 x 7 x 7 tensor whose values wrap, so every output reads distinct inputs. */
    static float[] ramp() {
        float[] x = new float[3 * 49];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) ((i * 0.37) % 5 - 2.5);
        }
        return x;
    }

    @Test
    void bilinearLrViewMatchesTorchInterpolateWithoutAntialiasAtNonIntegerRatios() {
        // F.interpolate(x, size=3 / 5, mode="bilinear", align_corners=False) in torch 1.13; 768 -> 336 is such a ratio
        float[] three = Preprocessor.bilinear(ramp(), 7, 3);
        assertThat(three).containsExactly(new float[] {-0.5266668f, 0.3366666f, 1.2f, 0.5166664f, 1.38f, 2.243333f,
            -0.1066662f, 0.756667f, 0.5088896f, -0.7299999f, 0.1333333f, 0.4411114f, -1.353333f, -0.4899997f, 0.373333f,
            -0.3100005f, 0.5533327f, -0.2499995f, 0.7333333f, 1.596667f, -0.8733333f, 1.776666f, -2.359999f, -1.496667f,
            1.153334f, -1.316667f, -0.453334f}, org.assertj.core.data.Offset.offset(2e-6f));
        float[] five = Preprocessor.bilinear(ramp(), 7, 5);
        assertThat(java.util.Arrays.copyOfRange(five, 25, 50)).containsExactly(new float[] {0.222f, 0.74f, 1.258f,
            1.776f, -0.9059997f, -0.1520001f, 0.3659999f, 0.8839999f, 0.2020002f, -1.08f, -1.526f, -1.008f, -0.4899999f,
            0.028f, 0.5459998f, 0.1000002f, 0.6180002f, 1.136f, 0.4540002f, -0.8280003f, 0.7259997f, 1.244f, 1.761999f,
            -1.72f, -1.202f}, org.assertj.core.data.Offset.offset(2e-6f));
    }

    @Test
    void bilinearLrViewFromHrNeedsNoWholeRatioButRefusesAntialias() {
        ModelManifest.Preprocess p = new ModelManifest.Preprocess(true, List.of(127, 127, 127),
                new ModelManifest.ViewSpec(768, "bicubic", null),
                new ModelManifest.ViewSpec(336, "bilinear", "hr", false, false),
                1 / 255.0, List.of(0.5, 0.5, 0.5), List.of(0.5, 0.5, 0.5), "NCHW");
        ModelManifest.Vision v = new ModelManifest.Vision(576, 0, new ModelManifest.Mining(true, 4), p, null,
                new ModelManifest.Component("hr.onnx", null, null), null, "float16");
        PixelViews views = new Preprocessor(v).apply(card());
        assertThat(views.lr()).hasSize(3 * 336 * 336);
        assertThat(views.hr()).hasSize(3 * 768 * 768);
        ModelManifest.Preprocess antialiased = new ModelManifest.Preprocess(true, List.of(127, 127, 127),
                new ModelManifest.ViewSpec(768, "bicubic", null),
                new ModelManifest.ViewSpec(336, "bilinear", "hr", true, false),
                1 / 255.0, List.of(0.5, 0.5, 0.5), List.of(0.5, 0.5, 0.5), "NCHW");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Preprocessor(new ModelManifest.Vision(576, 0,
                new ModelManifest.Mining(true, 4), antialiased, null, new ModelManifest.Component("hr.onnx", null, null),
                null, "float16"))).hasMessageContaining("antialias");
    }
}
