package dev.mgmstream.model.vision;

import java.util.Objects;

/**
 * An image that will never be encoded, whatever the retry: its bytes are too many, its declared size
 * is over the pixel budget, its format is unknown, or it is corrupt. The message is meant for the user
 * who sent it (it ends up in the task's rejected {@code Answer}); the {@link Reason} is for metrics.
 */
public final class ImageRejectedException extends Exception {

    /** Why, in a few stable words usable as a metric tag. */
    public enum Reason {
        EMPTY, TOO_MANY_BYTES, OVER_PIXEL_BUDGET, UNSUPPORTED_FORMAT, CORRUPT, TRUNCATED,
        /** A URI the loading policy refuses (scheme off, outside the roots, host not allowed). */
        NOT_ALLOWED,
        /** The URI names nothing (no such file, object or page). */
        NOT_FOUND,
        /** Fetching failed for good (HTTP error, timeout on a user-supplied URL). */
        FETCH_FAILED,
        /** The task contradicts itself (an image id that is not the bytes' SHA-256). */
        INVALID_TASK
    }

    private final Reason reason;

    public ImageRejectedException(Reason reason, String message) {
        this(reason, message, null);
    }

    public ImageRejectedException(Reason reason, String message, Throwable cause) {
        super(message, cause, false, cause != null);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }
}
