/**
 * The vision half of a Mini-Gemini export, from untrusted image bytes to visual tokens, without Kafka:
 * {@link dev.mgmstream.model.vision.ImageDecoder} (safe decoding under byte and pixel budgets, EXIF
 * orientation, alpha onto white), {@link dev.mgmstream.model.vision.Preprocessor} (the manifest's padding,
 * Pillow-compatible resizing, normalisation, LR derivation, Mini-Gemini-HD views),
 * {@link dev.mgmstream.model.vision.VisionEncoder} (LR encoder, HR encoder, mining and projector on whole
 * batches through DJL's ONNX Runtime engine) and {@link dev.mgmstream.model.vision.TensorBytes} (the tokens'
 * wire format).
 */
package dev.mgmstream.model.vision;
