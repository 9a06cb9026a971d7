package dev.mgmstream.pipeline.config;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Resolves configuration from four layers, later ones winning: defaults, a properties file,
 * environment variables, flags.
 *
 * <p>An environment variable names a key in upper case with dots as underscores behind {@code MGM_}:
 * {@code stage.batch.max.size} is {@code MGM_STAGE_BATCH_MAX_SIZE}. Keys therefore use dots only,
 * which makes the mapping reversible, and any {@code MGM_} variable maps to a key, including Kafka
 * client settings such as {@code MGM_KAFKA_CONSUMER_FETCH_MAX_BYTES}. The file is named by the key
 * {@value #CONFIG_FILE} (flag {@code --config.file}, or {@code MGM_CONFIG_FILE}).
 */
public final class LayeredConfig {

    public static final String ENV_PREFIX = "MGM_";
    public static final String CONFIG_FILE = "config.file";

    private LayeredConfig() {
    }

    /** Resolves against the real environment. */
    public static Map<String, String> resolve(Collection<ConfigKey> keys, Map<String, String> flags) {
        return resolve(keys, System.getenv(), flags);
    }

    public static Map<String, String> resolve(Collection<ConfigKey> keys, Map<String, String> env,
                                              Map<String, String> flags) {
        Map<String, String> fromEnv = fromEnvironment(env);
        Map<String, String> merged = new LinkedHashMap<>();
        for (ConfigKey key : keys) {
            if (key.defaultValue() != null) {
                merged.put(key.name(), key.defaultValue());
            }
        }
        String file = flags.getOrDefault(CONFIG_FILE, fromEnv.get(CONFIG_FILE));
        if (file != null && !file.isBlank()) {
            merged.putAll(readFile(Path.of(file)));
        }
        merged.putAll(fromEnv);
        merged.putAll(flags);
        return Map.copyOf(merged);
    }

    public static String envName(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    static Map<String, String> fromEnvironment(Map<String, String> env) {
        Map<String, String> keys = new HashMap<>();
        env.forEach((name, value) -> {
            if (name.startsWith(ENV_PREFIX) && name.length() > ENV_PREFIX.length()) {
                keys.put(name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.'), value);
            }
        });
        return keys;
    }

    /** {@code --key=value} or {@code --key value}; anything else is refused so typos surface. */
    public static Map<String, String> parseFlags(String... args) {
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new IllegalArgumentException("Expected --key=value or --key value, got '" + arg + "'");
            }
            int eq = arg.indexOf('=');
            if (eq > 0) {
                flags.put(arg.substring(2, eq), arg.substring(eq + 1));
            } else if (i + 1 < args.length) {
                flags.put(arg.substring(2), args[++i]);
            } else {
                throw new IllegalArgumentException("Flag " + arg + " has no value");
            }
        }
        return flags;
    }

    private static Map<String, String> readFile(Path file) {
        Properties p = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(reader);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read configuration file " + file.toAbsolutePath(), e);
        }
        Map<String, String> values = new LinkedHashMap<>();
        p.stringPropertyNames().forEach(k -> values.put(k, p.getProperty(k).trim()));
        return values;
    }
}
