package dev.mgmstream.model.lm;

/** Why a sequence stopped, in DJL's terms. */
public enum FinishReason {
    /** The model emitted a stop token or a stop string. */
    STOP,
    /** The token budget ran out: max new tokens, or the model's context. */
    LENGTH
}
