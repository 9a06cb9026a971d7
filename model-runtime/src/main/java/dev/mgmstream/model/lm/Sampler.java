package dev.mgmstream.model.lm;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks one sequence's next token from its logits. Each sequence owns a sampler whose random
 * stream is seeded by the task alone and advances by exactly one draw per sampled token, so the
 * answer depends on the task and its logits, never on its batch neighbours or its slot.
 */
final class Sampler {

    private final SamplingParams params;
    private final SplittableRandom random;

    Sampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
    }

    /** @param logits the whole logits buffer; this sequence's row starts at {@code offset} */
    int next(float[] logits, int offset, int vocab) {
        if (params.isGreedy()) {
            return argmax(logits, offset, vocab);
        }
        return sample(logits, offset, vocab);
    }

    /** The first index of the largest value, as {@code torch.argmax} returns it. */
    static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        float max = logits[offset];
        for (int i = 1; i < vocab; i++) {
            float v = logits[offset + i];
            if (v > max) {
                max = v;
                best = i;
            }
        }
        return best;
    }

    private int sample(float[] logits, int offset, int vocab) {
        double t = params.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i] / t);
        }
        double[] p = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(logits[offset + i] / t - max);
        }
        // Most likely first; ties by index, so the order (and the draw) is fully determined.
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
        double total = 0;
        for (int i = 0; i < keep; i++) {
            total += p[order[i]];
        }
        if (params.topP() < 1) {
            double mass = 0;
            for (int i = 0; i < keep; i++) {
                mass += p[order[i]];
                if (mass >= params.topP() * total) {
                    keep = i + 1;
                    total = mass;
                    break;
                }
            }
        }
        double u = random.nextDouble() * total;
        double acc = 0;
        for (int i = 0; i < keep; i++) {
            acc += p[order[i]];
            if (u < acc) {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
