package dev.mgmstream.model.lm;

/**
 * What one sequence produced.
 *
 * @param text the decoded answer without special tokens, cut before a stop string
 * @param tokens the generated ids, the stop token excluded
 * @param promptTokens tokens fed as prompt, visual tokens included
 * @param waitNanos from the start of {@link Generator#generate} until the sequence was admitted (its prefill began)
 * @param totalNanos from the start of {@link Generator#generate} until the sequence finished
 */
public record Completion(String id, String text, long[] tokens, FinishReason finishReason, int promptTokens,
                         long waitNanos, long totalNanos) {

    public int completionTokens() {
        return tokens.length;
    }
}
