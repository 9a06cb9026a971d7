package dev.mgmstream.pipeline.stage;

import java.util.Objects;

/**
 * The batch function's verdict that one input cannot be processed (bad content); the runtime sends
 * it to the dead-letter topic and the rest of the batch goes on.
 */
public record Reject(int source, Throwable reason) implements Emitted {

    public Reject {
        Objects.requireNonNull(reason, "reason");
    }

    public static Reject of(InputRecord<?, ?> input, Throwable reason) {
        return new Reject(input.index(), reason);
    }
}
