package dev.mgmstream.devkit.registry;

/** A request the registry refuses, with the HTTP status and Confluent error code it answers with. */
final class RegistryError extends RuntimeException {
    private final int httpStatus;
    private final int errorCode;

    RegistryError(int httpStatus, int errorCode, String message) {
        this(httpStatus, errorCode, message, null);
    }

    RegistryError(int httpStatus, int errorCode, String message, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
        this.errorCode = errorCode;
    }

    int httpStatus() {
        return httpStatus;
    }

    int errorCode() {
        return errorCode;
    }
}
