/**
 * The stage runtime every pipeline stage shares: a Kafka consumer-group member that gathers
 * micro-batches ({@link dev.mgmstream.pipeline.stage.MicroBatcher}), computes them with a pure
 * {@link dev.mgmstream.pipeline.stage.BatchFunction} on a worker thread, isolates poison inputs into a
 * dead-letter topic, and writes outputs and consumed offsets in one transaction
 * ({@link dev.mgmstream.pipeline.stage.Stage}). A stage is a
 * {@link dev.mgmstream.pipeline.stage.StageDefinition} (code) run with
 * {@link dev.mgmstream.pipeline.stage.StageSettings} (configuration).
 */
package dev.mgmstream.pipeline.stage;
