package dev.mgmstream.schemas.registry;

/**
 * A registry call that failed. Carries the HTTP status and Confluent's {@code error_code} (see
 * {@link RegistryErrorCodes}); both are -1 when no answer came back at all (connection refused, timeout).
 */
public class SchemaRegistryException extends RuntimeException {
    private final int httpStatus;
    private final int errorCode;

    public SchemaRegistryException(String message, int httpStatus, int errorCode, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
        this.errorCode = errorCode;
    }

    public int httpStatus() {
        return httpStatus;
    }

    public int errorCode() {
        return errorCode;
    }

    /** True for a 5xx answer or no answer: the same call may succeed later. */
    public boolean retriable() {
        return httpStatus < 0 || httpStatus >= 500;
    }
}
