package dev.mgmstream.model.lm;

/** A task the model cannot take as given (its prompt does not fit, its visual tokens are the wrong shape); retrying will not help. */
public class PromptRejectedException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public PromptRejectedException(String message) {
        super(message);
    }
}
