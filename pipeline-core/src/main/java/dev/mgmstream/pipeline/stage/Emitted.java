package dev.mgmstream.pipeline.stage;

/**
 * What a batch function returns for its inputs: {@link Output}s to write, and {@link Reject}s for
 * inputs that cannot be processed. An input with neither is consumed without output.
 */
public sealed interface Emitted permits Output, Reject {

    /** The {@link InputRecord#index()} of the input this stands for. */
    int source();
}
