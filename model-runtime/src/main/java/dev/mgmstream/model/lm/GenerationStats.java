package dev.mgmstream.model.lm;

/**
 * Where a {@link Generator}'s time went, summed over its calls: prefill forwards, decode steps
 * (token embedding, decoder, sampling), and re-packing the KV cache when sequences join or leave.
 */
public record GenerationStats(long sequences, long generatedTokens, long prefills, long decodeSteps,
                              long prefillNanos, long decodeNanos, long repackNanos) {

    public static final GenerationStats ZERO = new GenerationStats(0, 0, 0, 0, 0, 0, 0);

    public GenerationStats plus(GenerationStats o) {
        return new GenerationStats(sequences + o.sequences, generatedTokens + o.generatedTokens,
                prefills + o.prefills, decodeSteps + o.decodeSteps, prefillNanos + o.prefillNanos,
                decodeNanos + o.decodeNanos, repackNanos + o.repackNanos);
    }

    public GenerationStats minus(GenerationStats o) {
        return new GenerationStats(sequences - o.sequences, generatedTokens - o.generatedTokens,
                prefills - o.prefills, decodeSteps - o.decodeSteps, prefillNanos - o.prefillNanos,
                decodeNanos - o.decodeNanos, repackNanos - o.repackNanos);
    }

    public long modelNanos() {
        return prefillNanos + decodeNanos + repackNanos;
    }
}
