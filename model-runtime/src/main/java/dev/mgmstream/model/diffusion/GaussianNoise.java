package dev.mgmstream.model.diffusion;

/**
 * Standard normal noise from a seed, reproducible outside the JVM: value {@code k} comes from the
 * SplitMix64 outputs for counters {@code 2j} and {@code 2j + 1} ({@code j = k / 2}) of the state
 * {@code seed + counter * 0x9E3779B97F4A7C15}, turned into two normals by Box-Muller in double precision
 * (even {@code k} the cosine branch, odd {@code k} the sine branch). The Python reference sampler
 * ({@code models/mgm/gen_sampler.py}) computes the same numbers, which is how a Java image can equal the
 * Python one for the same seed: torch's own generator cannot be reproduced here.
 */
public final class GaussianNoise {

    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
    private static final double TWO_TO_MINUS_53 = 1.0 / (1L << 53);

    private GaussianNoise() {}

    /** {@code count} float normals for {@code seed}. */
    public static float[] normal(long seed, int count) {
        float[] out = new float[count];
        for (int j = 0; 2 * j < count; j++) {
            double u1 = uniform(seed, 2L * j);
            double u2 = uniform(seed, 2L * j + 1);
            double r = Math.sqrt(-2.0 * Math.log(u1));
            double angle = 2.0 * Math.PI * u2;
            out[2 * j] = (float) (r * Math.cos(angle));
            if (2 * j + 1 < count) {
                out[2 * j + 1] = (float) (r * Math.sin(angle));
            }
        }
        return out;
    }

    /** A uniform in (0, 1), never 0, so the logarithm above is finite. */
    private static double uniform(long seed, long counter) {
        long z = splitMix64(seed + counter * GOLDEN_GAMMA);
        return ((z >>> 11) + 0.5) * TWO_TO_MINUS_53;
    }

    static long splitMix64(long state) {
        long z = state + GOLDEN_GAMMA;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
