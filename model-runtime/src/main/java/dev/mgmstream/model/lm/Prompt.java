package dev.mgmstream.model.lm;

import java.util.Objects;

/**
 * One sequence ready to generate: its token ids with the image placeholder already repeated once per
 * visual token, the visual tokens that replace those positions, and how to sample. Built by
 * {@link LanguageModel#prompt}, which checks it against the model.
 *
 * @param id the caller's name for it, carried to the {@link Completion}
 * @param tokenIds the prompt, {@code visualCount} of them being the image token
 * @param visualTokens {@code visualCount x hidden} floats, row-major, in the order they replace the
 *                     image-token positions
 */
public record Prompt(String id, long[] tokenIds, float[] visualTokens, int visualCount, SamplingParams params) {

    public Prompt {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(tokenIds, "tokenIds");
        Objects.requireNonNull(visualTokens, "visualTokens");
        Objects.requireNonNull(params, "params");
    }

    public int length() {
        return tokenIds.length;
    }
}
