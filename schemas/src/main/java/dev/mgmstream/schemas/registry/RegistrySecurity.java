package dev.mgmstream.schemas.registry;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * How the registry client proves who it is and whom it talks to, under the configuration names of
 * Confluent's serdes, so a configuration written for them works here too:
 * <ul>
 *   <li>{@code basic.auth.credentials.source}: {@code USER_INFO} (default; {@code basic.auth.user.info}
 *   = {@code user:password}), {@code URL} (the user info of {@code schema.registry.url}) or
 *   {@code SASL_INHERIT} (the username and password of the Kafka clients' {@code sasl.jaas.config});</li>
 *   <li>{@code bearer.auth.credentials.source=STATIC_TOKEN} with {@code bearer.auth.token};</li>
 *   <li>{@code schema.registry.ssl.truststore.location}, {@code .password}, {@code .type} (default
 *   {@code JKS}), and for mutual TLS {@code schema.registry.ssl.keystore.location}, {@code .password},
 *   {@code .type}, {@code schema.registry.ssl.key.password}.</li>
 * </ul>
 */
final class RegistrySecurity {

    static final String BASIC_SOURCE = "basic.auth.credentials.source";
    static final String BASIC_USER_INFO = "basic.auth.user.info";
    static final String BEARER_SOURCE = "bearer.auth.credentials.source";
    static final String BEARER_TOKEN = "bearer.auth.token";
    static final String SSL = "schema.registry.ssl.";

    private static final Pattern JAAS_OPTION = Pattern.compile("(username|password)\\s*=\\s*\"([^\"]*)\"");

    private RegistrySecurity() {
    }

    /** The Authorization header's value, if the configuration asks for one. */
    static Optional<String> authorization(Map<String, ?> config, String legacyUserInfoKey) {
        String bearerSource = text(config, BEARER_SOURCE);
        if (bearerSource != null) {
            if (!bearerSource.equalsIgnoreCase("STATIC_TOKEN")) {
                throw new IllegalArgumentException(BEARER_SOURCE + "=" + bearerSource
                        + " is not supported; use STATIC_TOKEN with " + BEARER_TOKEN);
            }
            String token = text(config, BEARER_TOKEN);
            if (token == null) {
                throw new IllegalArgumentException(BEARER_SOURCE + "=STATIC_TOKEN needs " + BEARER_TOKEN);
            }
            return Optional.of("Bearer " + token);
        }
        String source = Optional.ofNullable(text(config, BASIC_SOURCE)).orElse("USER_INFO").toUpperCase(Locale.ROOT);
        String userInfo = switch (source) {
            case "USER_INFO" -> Optional.ofNullable(text(config, BASIC_USER_INFO)).orElse(text(config, legacyUserInfoKey));
            case "URL" -> urlUserInfo(text(config, SchemaRegistryConfig.URL));
            case "SASL_INHERIT" -> saslUserInfo(text(config, "sasl.jaas.config") != null ? text(config, "sasl.jaas.config")
                    : text(config, "kafka.sasl.jaas.config"));
            default -> throw new IllegalArgumentException(BASIC_SOURCE + " must be USER_INFO, URL or SASL_INHERIT, was "
                    + source);
        };
        return userInfo == null ? Optional.empty() : Optional.of("Basic "
                + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8)));
    }

    /** A TLS context trusting the configured store (and presenting the key store's key), if one is set. */
    static Optional<SSLContext> tls(Map<String, ?> config) {
        String trustStore = text(config, SSL + "truststore.location");
        String keyStore = text(config, SSL + "keystore.location");
        if (trustStore == null && keyStore == null) {
            return Optional.empty();
        }
        try {
            TrustManagerFactory trust = null;
            if (trustStore != null) {
                trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                trust.init(load(trustStore, text(config, SSL + "truststore.type"), text(config, SSL + "truststore.password")));
            }
            KeyManagerFactory keys = null;
            if (keyStore != null) {
                String storePassword = text(config, SSL + "keystore.password");
                String keyPassword = Optional.ofNullable(text(config, SSL + "key.password")).orElse(storePassword);
                keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                keys.init(load(keyStore, text(config, SSL + "keystore.type"), storePassword),
                        keyPassword == null ? new char[0] : keyPassword.toCharArray());
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keys == null ? null : keys.getKeyManagers(), trust == null ? null : trust.getTrustManagers(),
                    null);
            return Optional.of(context);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("Cannot set up TLS to the schema registry: " + e.getMessage(), e);
        }
    }

    /** The URL without its user info: credentials go in a header, never in the request line. */
    static URI withoutUserInfo(URI url) {
        if (url.getUserInfo() == null) {
            return url;
        }
        return URI.create(url.getScheme() + "://" + url.getRawAuthority().substring(url.getRawAuthority().indexOf('@') + 1)
                + Optional.ofNullable(url.getRawPath()).orElse(""));
    }

    private static KeyStore load(String location, String type, String password) throws GeneralSecurityException {
        KeyStore store = KeyStore.getInstance(type == null ? "JKS" : type);
        try (InputStream in = Files.newInputStream(Path.of(location))) {
            store.load(in, password == null ? null : password.toCharArray());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the key store " + location, e);
        }
        return store;
    }

    private static String urlUserInfo(String urls) {
        if (urls == null) {
            return null;
        }
        for (String u : urls.split(",")) {
            String info = URI.create(u.trim()).getUserInfo();
            if (info != null) {
                return info;
            }
        }
        throw new IllegalArgumentException(BASIC_SOURCE + "=URL but " + SchemaRegistryConfig.URL
                + " holds no user:password@");
    }

    private static String saslUserInfo(String jaas) {
        if (jaas == null) {
            throw new IllegalArgumentException(BASIC_SOURCE + "=SASL_INHERIT needs the Kafka clients' sasl.jaas.config");
        }
        String user = null;
        String password = null;
        Matcher m = JAAS_OPTION.matcher(jaas);
        while (m.find()) {
            if (m.group(1).equals("username")) {
                user = m.group(2);
            } else {
                password = m.group(2);
            }
        }
        if (user == null || password == null) {
            throw new IllegalArgumentException(BASIC_SOURCE + "=SASL_INHERIT: sasl.jaas.config names no username and "
                    + "password");
        }
        return user + ":" + password;
    }

    private static String text(Map<String, ?> config, String key) {
        Object v = config.get(key);
        return v == null || v.toString().isBlank() ? null : v.toString().trim();
    }
}
