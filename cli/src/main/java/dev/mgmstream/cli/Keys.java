package dev.mgmstream.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import picocli.CommandLine;

/** Small helpers around configuration. */
final class Keys {

    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)?");

    private Keys() {
    }

    /** The repository's model instead of a relative default that does not exist where mgm runs. */
    static Map<String, String> withBundledModel(Map<String, String> config) {
        Map<String, String> c = new HashMap<>(config);
        for (String key : List.of("encoders.model.dir", "reasoning.model.dirs")) {
            String v = c.get(key);
            if (v == null || ("models/mgm-tiny".equals(v) && !Files.isDirectory(Path.of(v)))) {
                c.put(key, Home.model().toString());
            }
        }
        String g = c.get("generation.model.dir");
        if (g == null || ("models/mgm-gen-tiny".equals(g) && !Files.isDirectory(Path.of(g)))) {
            c.put("generation.model.dir", Home.generator().toString());
        }
        return c;
    }

    /** Durations as people write them: 90s, 5m, 1h, 250ms, or ISO-8601 (PT5M); a bare number is seconds. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            String v = value.trim();
            if (v.toUpperCase().startsWith("PT")) {
                return Duration.parse(v.toUpperCase());
            }
            Matcher m = DURATION.matcher(v);
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (examples: 90s, 5m, 1h)");
            }
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            return switch (unit) {
                case "ms" -> Duration.ofMillis(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofSeconds(n);
            };
        }
    }
}
