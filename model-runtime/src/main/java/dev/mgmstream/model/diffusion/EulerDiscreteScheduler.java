package dev.mgmstream.model.diffusion;

import java.util.Arrays;

/**
 * Diffusers' {@code EulerDiscreteScheduler} for epsilon prediction, the scheduler SDXL ships with:
 * sigmas from the training schedule's cumulative alphas, interpolated linearly at the inference
 * timesteps, a final sigma of 0, the model input scaled by {@code 1 / sqrt(sigma^2 + 1)}, and a
 * first-order step {@code x += (sigma_next - sigma) * eps}. Immutable once built for a step count.
 */
public final class EulerDiscreteScheduler {

    private final float[] timesteps;
    private final float[] sigmas;

    private EulerDiscreteScheduler(float[] timesteps, float[] sigmas) {
        this.timesteps = timesteps;
        this.sigmas = sigmas;
    }

    /**
     * @param spec  the training schedule and spacing from the generator's manifest
     * @param steps inference steps, at least 1 and at most the training timesteps
     */
    public static EulerDiscreteScheduler create(GeneratorManifest.Scheduler spec, int steps) {
        int train = spec.trainTimesteps();
        if (steps < 1 || steps > train) {
            throw new IllegalArgumentException("steps must be between 1 and " + train + ", got " + steps);
        }
        double[] full = trainingSigmas(spec);
        double[] ts = new double[steps];
        switch (spec.timestepSpacing()) {
            case "leading" -> {
                int ratio = train / steps;
                for (int i = 0; i < steps; i++) {
                    ts[i] = (double) (steps - 1 - i) * ratio + spec.stepsOffset();
                }
            }
            case "trailing" -> {
                double ratio = (double) train / steps;
                for (int i = 0; i < steps; i++) {
                    ts[i] = Math.round(train - i * ratio) - 1.0;
                }
            }
            case "linspace" -> {
                for (int i = 0; i < steps; i++) {
                    ts[i] = steps == 1 ? train - 1.0 : (train - 1.0) * (steps - 1 - i) / (steps - 1);
                }
            }
            default -> throw new IllegalArgumentException("unsupported timestep spacing '" + spec.timestepSpacing()
                    + "' (leading, trailing or linspace)");
        }
        float[] timesteps = new float[steps];
        float[] sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = (float) ts[i];
            sigmas[i] = (float) interpolate(full, ts[i]);
        }
        sigmas[steps] = 0f;
        return new EulerDiscreteScheduler(timesteps, sigmas);
    }

    static double[] trainingSigmas(GeneratorManifest.Scheduler spec) {
        int n = spec.trainTimesteps();
        double[] sigmas = new double[n];
        double cumprod = 1.0;
        for (int t = 0; t < n; t++) {
            double beta = switch (spec.betaSchedule()) {
                case "scaled_linear" -> {
                    double a = Math.sqrt(spec.betaStart());
                    double b = Math.sqrt(spec.betaEnd());
                    double s = n == 1 ? a : a + (b - a) * t / (n - 1);
                    yield s * s;
                }
                case "linear" -> n == 1 ? spec.betaStart()
                        : spec.betaStart() + (spec.betaEnd() - spec.betaStart()) * t / (n - 1);
                default -> throw new IllegalArgumentException("unsupported beta schedule '" + spec.betaSchedule()
                        + "' (scaled_linear or linear)");
            };
            cumprod *= 1.0 - beta;
            sigmas[t] = Math.sqrt((1.0 - cumprod) / cumprod);
        }
        return sigmas;
    }

    private static double interpolate(double[] table, double t) {
        if (t <= 0) {
            return table[0];
        }
        if (t >= table.length - 1) {
            return table[table.length - 1];
        }
        int lo = (int) Math.floor(t);
        double f = t - lo;
        return table[lo] + f * (table[lo + 1] - table[lo]);
    }

    public int steps() {
        return timesteps.length;
    }

    public float timestep(int i) {
        return timesteps[i];
    }

    public float sigma(int i) {
        return sigmas[i];
    }

    /** What the initial unit noise is multiplied by. */
    public float initNoiseSigma() {
        float max = 0;
        for (float s : sigmas) {
            max = Math.max(max, s);
        }
        return (float) Math.sqrt((double) max * max + 1.0);
    }

    /** The factor the latents are multiplied by before the UNet at step {@code i}. */
    public float inputScale(int i) {
        double s = sigmas[i];
        return (float) (1.0 / Math.sqrt(s * s + 1.0));
    }

    /** One Euler step in place: {@code latents += (sigma[i + 1] - sigma[i]) * eps}. */
    public void step(int i, float[] latents, float[] eps) {
        float dt = sigmas[i + 1] - sigmas[i];
        for (int k = 0; k < latents.length; k++) {
            latents[k] += dt * eps[k];
        }
    }

    float[] timesteps() {
        return Arrays.copyOf(timesteps, timesteps.length);
    }

    float[] sigmas() {
        return Arrays.copyOf(sigmas, sigmas.length);
    }
}
