package dev.mgmstream.pipeline.stage;

/** A failure that says nothing about the inputs: the same batch is retried after a backoff. */
public class TransientBatchException extends Exception {

    private static final long serialVersionUID = 1L;

    public TransientBatchException(String message, Throwable cause) {
        super(message, cause);
    }

    public TransientBatchException(String message) {
        super(message);
    }
}
