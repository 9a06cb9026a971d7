/**
 * The encoders stage: {@code ImageTask} records in, {@code VisualTokens} out, once per image and model.
 * {@link dev.mgmstream.encoders.EncodersStage} wires the model ({@code dev.mgmstream.model.vision}), the
 * image sources and the claim-check store to the stage runtime; the batch function itself
 * ({@code EncodeBatch}) is package-visible and testable without a broker.
 */
package dev.mgmstream.encoders;
