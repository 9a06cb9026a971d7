package dev.mgmstream.model.lm;

/**
 * How one sequence picks its tokens and when it must stop.
 *
 * @param maxNewTokens upper bound on generated tokens (the context length may cut it shorter)
 * @param temperature 0 for greedy decoding (the default); above 0 samples from the softened distribution
 * @param topK keep only the k most likely tokens; 0 keeps all
 * @param topP keep the smallest set of most likely tokens whose mass reaches p; 1 keeps all
 * @param seed seeds this sequence's own random stream, so a sampled answer is the same whatever
 *             else shares its batch
 */
public record SamplingParams(int maxNewTokens, double temperature, int topK, double topP, long seed) {

    public SamplingParams {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be at least 1, was " + maxNewTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, was " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0, was " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], was " + topP);
        }
    }

    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(maxNewTokens, 0, 0, 1, 0);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }
}
