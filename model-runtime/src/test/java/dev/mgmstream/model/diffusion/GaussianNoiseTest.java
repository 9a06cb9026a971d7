package dev.mgmstream.model.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The noise must equal models/mgm/gen_sampler.py's normal_noise; the expected values were printed by it. */
class GaussianNoiseTest {

    @Test
    void equalsThePythonReference() {
        assertArrayEquals(new float[] {0.41471976f, 0.65268123f, -0.89188623f, 1.3268336f, 1.7295930f, -1.8834168f},
                GaussianNoise.normal(42, 6), 1e-6f);
        // a seed with the top bit set (Python masks it to 64 bits; Java's long wraps the same way)
        assertArrayEquals(new float[] {0.40389818f, -0.24716993f, -1.5578115f}, GaussianNoise.normal(-1L, 3), 1e-6f);
        float[] odd = GaussianNoise.normal(9007199254740993L, 7);
        assertArrayEquals(new float[] {0.12292521f, 0.4673807f, 0.10179349f},
                new float[] {odd[4], odd[5], odd[6]}, 1e-6f);
    }

    @Test
    void prefixesAgreeAndMomentsAreNormal() {
        float[] a = GaussianNoise.normal(7, 5);
        float[] b = GaussianNoise.normal(7, 100_000);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i]);
        }
        double sum = 0;
        double sq = 0;
        for (float v : b) {
            sum += v;
            sq += v * v;
        }
        double mean = sum / b.length;
        double var = sq / b.length - mean * mean;
        assertTrue(Math.abs(mean) < 0.02, "mean " + mean);
        assertTrue(Math.abs(var - 1) < 0.02, "variance " + var);
    }
}
