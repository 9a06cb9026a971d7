package dev.mgmstream.model.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Against models/mgm/gen_sampler.py's euler_schedule (SDXL's scheduler settings); values printed by it. */
class EulerDiscreteSchedulerTest {

    static final GeneratorManifest.Scheduler SDXL = new GeneratorManifest.Scheduler("euler_discrete", 1000,
            0.00085, 0.012, "scaled_linear", "leading", 1, "epsilon");

    @Test
    void twentyLeadingSteps() {
        EulerDiscreteScheduler s = EulerDiscreteScheduler.create(SDXL, 20);
        float[] ts = new float[20];
        for (int i = 0; i < 20; i++) {
            ts[i] = 951 - 50 * i;
        }
        assertArrayEquals(ts, s.timesteps());
        float[] sigmas = s.sigmas();
        assertEquals(21, sigmas.length);
        assertEquals(11.028331f, sigmas[0], 2e-5f);
        assertEquals(8.390685f, sigmas[1], 2e-5f);
        assertEquals(1.6236920f, sigmas[9], 2e-6f);
        assertEquals(0.04131441f, sigmas[19], 1e-7f);
        assertEquals(0f, sigmas[20]);
        assertEquals(11.073576f, s.initNoiseSigma(), 2e-5f);
    }

    @Test
    void sevenStepsInterpolateNothingButStillMatch() {
        EulerDiscreteScheduler s = EulerDiscreteScheduler.create(SDXL, 7);
        assertArrayEquals(new float[] {853, 711, 569, 427, 285, 143, 1}, s.timesteps());
        assertArrayEquals(new float[] {6.5706496f, 3.4854548f, 2.0473118f, 1.2720629f, 0.79006094f, 0.44030902f,
                0.04131441f, 0f}, s.sigmas(), 2e-6f);
    }

    @Test
    void eulerStepMovesByTheSigmaDifference() {
        EulerDiscreteScheduler s = EulerDiscreteScheduler.create(SDXL, 7);
        float[] x = {1f, -2f};
        s.step(0, x, new float[] {1f, 1f});
        float dt = s.sigma(1) - s.sigma(0);
        assertArrayEquals(new float[] {1f + dt, -2f + dt}, x);
    }

    @Test
    void refusesWhatItCannotRun() {
        assertThrows(IllegalArgumentException.class, () -> EulerDiscreteScheduler.create(SDXL, 0));
        assertThrows(IllegalArgumentException.class, () -> EulerDiscreteScheduler.create(SDXL, 1001));
        assertThrows(IllegalArgumentException.class, () -> EulerDiscreteScheduler.create(
                new GeneratorManifest.Scheduler("euler_discrete", 1000, 0.1, 0.2, "cosine", "leading", 1, null), 10));
        assertThrows(IllegalArgumentException.class, () -> new GeneratorManifest.Scheduler("ddpm", 1000, 0.1, 0.2,
                "linear", "leading", 1, null));
    }
}
