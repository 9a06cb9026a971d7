package dev.mgmstream.schemas.registry;

import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How to reach a schema registry. Built from the same flat key/value configuration as the Kafka clients,
 * so a serde configured through {@code value.serializer} finds its registry too.
 *
 * @param urls base URLs, tried in turn when one does not answer (for Apicurio include the ccompat path,
 *     for example {@code http://host:8080/apis/ccompat/v7})
 * @param authorization the Authorization header (basic or bearer, see {@link RegistrySecurity}), if any
 * @param tls TLS settings beyond the JVM's defaults (a trust store, a client key), if any
 * @param normalize {@code normalize.schemas}: the registry normalises a schema before registering or looking
 *     it up, so schemas that differ only in form (order of properties, aliases written out) get one id
 */
public record SchemaRegistryConfig(
        List<URI> urls,
        Duration connectTimeout,
        Duration requestTimeout,
        int retries,
        Duration retryBackoff,
        Duration retryBackoffMax,
        Optional<String> authorization,
        Optional<javax.net.ssl.SSLContext> tls,
        boolean normalize) {

    public static final String URL = "schema.registry.url";
    public static final String CONNECT_TIMEOUT_MS = "schema.registry.connect.timeout.ms";
    public static final String REQUEST_TIMEOUT_MS = "schema.registry.request.timeout.ms";
    public static final String RETRIES = "schema.registry.retries";
    public static final String RETRY_BACKOFF_MS = "schema.registry.retry.backoff.ms";
    public static final String RETRY_BACKOFF_MAX_MS = "schema.registry.retry.backoff.max.ms";
    public static final String BASIC_AUTH_USER_INFO = "schema.registry.basic.auth.user.info";
    public static final String NORMALIZE_SCHEMAS = "normalize.schemas";

    public SchemaRegistryConfig {
        urls = List.copyOf(urls);
        if (urls.isEmpty()) {
            throw new IllegalArgumentException("At least one schema registry URL is needed (" + URL + ")");
        }
        if (retries < 0) {
            throw new IllegalArgumentException(RETRIES + " must not be negative, was " + retries);
        }
    }

    /** Defaults for everything but the URL. */
    public static SchemaRegistryConfig forUrl(String url) {
        return fromMap(Map.of(URL, url));
    }

    public static SchemaRegistryConfig fromMap(Map<String, ?> config) {
        Object url = config.get(URL);
        if (url == null || url.toString().isBlank()) {
            throw new IllegalArgumentException("Missing configuration key " + URL + " (the schema registry's base URL)");
        }
        List<URI> urls = Arrays.stream(url.toString().split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .map(s -> URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s))
                .map(RegistrySecurity::withoutUserInfo)
                .toList();
        return new SchemaRegistryConfig(
                urls,
                Duration.ofMillis(longValue(config, CONNECT_TIMEOUT_MS, 5_000)),
                Duration.ofMillis(longValue(config, REQUEST_TIMEOUT_MS, 10_000)),
                (int) longValue(config, RETRIES, 3),
                Duration.ofMillis(longValue(config, RETRY_BACKOFF_MS, 100)),
                Duration.ofMillis(longValue(config, RETRY_BACKOFF_MAX_MS, 2_000)),
                RegistrySecurity.authorization(config, BASIC_AUTH_USER_INFO),
                RegistrySecurity.tls(config),
                Boolean.parseBoolean(String.valueOf(config.get(NORMALIZE_SCHEMAS)).trim()));
    }

    private static long longValue(Map<String, ?> config, String key, long defaultValue) {
        Object raw = config.get(key);
        if (raw == null) {
            return defaultValue;
        }
        if (raw instanceof Number n) {
            return n.longValue();
        }
        try {
            return Long.parseLong(raw.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Configuration key " + key + " must be a whole number, was '" + raw + "'", e);
        }
    }
}
