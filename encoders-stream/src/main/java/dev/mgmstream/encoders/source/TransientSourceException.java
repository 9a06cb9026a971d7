package dev.mgmstream.encoders.source;

/**
 * The image could not be fetched for a reason that is not the task's fault (the object store is down or
 * slow): the batch is worth retrying as it is, rather than the task rejected.
 */
public final class TransientSourceException extends Exception {

    public TransientSourceException(String message, Throwable cause) {
        super(message, cause);
    }
}
