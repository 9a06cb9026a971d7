package dev.mgmstream.pipeline.stage;

import java.util.List;

/**
 * The work of a stage: a pure function from a batch of inputs to what should be written.
 *
 * <p>It must not write to Kafka or keep state between calls: the runtime may call it again on the
 * same inputs (after a rebalance, a crash, or to isolate a poison record by splitting the batch) and
 * relies on getting equivalent outputs. Throw {@link TransientBatchException} for failures worth
 * retrying as they are (a busy accelerator); any other exception makes the runtime split the batch
 * to find the inputs that cause it.
 */
@FunctionalInterface
public interface BatchFunction<K, V> {

    List<Emitted> apply(List<InputRecord<K, V>> batch) throws Exception;
}
