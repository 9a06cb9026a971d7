/**
 * The reasoning stage: VisualTokens records in, the language model's answers out. Kafka is wired in
 * {@link dev.mgmstream.reasoning.ReasoningStage}; the work is the pure batch function
 * {@code ReasoningBatch}, which hands every task of a micro-batch to the model-runtime's
 * {@link dev.mgmstream.model.lm.Generator} in one continuous-batching run and turns the completions into
 * Answers and GenerationRequests. Nothing here knows about ONNX; nothing in the model-runtime knows about Kafka.
 */
package dev.mgmstream.reasoning;
