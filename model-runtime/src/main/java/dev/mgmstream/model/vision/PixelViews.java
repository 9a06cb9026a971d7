package dev.mgmstream.model.vision;

/**
 * One image ready for the encoders: normalised float pixels, channel-major (CHW).
 *
 * @param lr {@code k} LR views of {@code 3 x lrSize x lrSize} each, one after the other: just the whole image
 *           ({@code k = 1}), or with Mini-Gemini-HD's token extension the global view followed by the
 *           {@code grid x grid} sub-images in row-major order ({@code k = grid^2 + 1})
 * @param hr the HR view, {@code 3 x hrSize x hrSize}; null for an LR-only model
 */
public record PixelViews(float[] lr, float[] hr) {
}
