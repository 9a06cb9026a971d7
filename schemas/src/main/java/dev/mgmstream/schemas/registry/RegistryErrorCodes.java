package dev.mgmstream.schemas.registry;

/** The error codes of the Confluent Schema Registry API, found in the {@code error_code} field of error bodies. */
public final class RegistryErrorCodes {
    public static final int SUBJECT_NOT_FOUND = 40401;
    public static final int VERSION_NOT_FOUND = 40402;
    public static final int SCHEMA_NOT_FOUND = 40403;
    /** Subject-level compatibility asked for, but the subject has none of its own. */
    public static final int SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408;
    /** Confluent reports an incompatible schema with HTTP 409 and error code 409. */
    public static final int INCOMPATIBLE_SCHEMA = 409;
    public static final int INVALID_SCHEMA = 42201;
    public static final int INVALID_VERSION = 42202;
    public static final int INVALID_COMPATIBILITY_LEVEL = 42203;
    public static final int BACKEND_STORE_ERROR = 50001;

    private RegistryErrorCodes() {
    }
}
