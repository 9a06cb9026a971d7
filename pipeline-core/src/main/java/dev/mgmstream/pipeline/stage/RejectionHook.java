package dev.mgmstream.pipeline.stage;

import java.util.List;
import java.util.Optional;

/**
 * Lets a stage add outputs of its own for a rejected input, besides its dead-letter record: for
 * example an {@code Answer} with status {@code rejected}, so the user who sent the task learns its
 * fate. The outputs are written in the same transaction as the dead-letter record.
 */
@FunctionalInterface
public interface RejectionHook<K, V> {

    /** No extra outputs. */
    static <K, V> RejectionHook<K, V> none() {
        return (rejected, decoded) -> List.of();
    }

    /**
     * @param decoded the input as decoded, absent when its bytes could not be decoded at all
     */
    List<Output<?, ?>> onRejected(RejectedRecord rejected, Optional<InputRecord<K, V>> decoded);
}
