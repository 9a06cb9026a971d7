/**
 * A Mini-Gemini export as the pipeline sees it: the {@code model.json} manifest, the ONNX graphs
 * it names (run through DJL's ONNX Runtime engine) and the Hugging Face tokenizer. Nothing here
 * knows about Kafka; the stages wire these pieces into their batch functions.
 */
package dev.mgmstream.model;
