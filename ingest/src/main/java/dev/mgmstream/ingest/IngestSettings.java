package dev.mgmstream.ingest;

import java.util.List;
import java.util.Map;

import dev.mgmstream.pipeline.config.ConfigKey;

/** How tasks are published, read from configuration (see docs/configuration.md). */
public record IngestSettings(String bootstrapServers, int inlineMaxBytes) {

    public static final ConfigKey BOOTSTRAP = new ConfigKey("bootstrap.servers", "localhost:9092",
            "Kafka brokers to connect to.");
    public static final ConfigKey INLINE_MAX_BYTES = new ConfigKey("ingest.inline.max.bytes", "4194304",
            "Local image files up to this size travel inside the task record; larger ones travel as a file: URI, "
                    + "which the encoders stage reads only under encoders.source.file.roots. Must stay below the "
                    + "image-tasks topic's max.message.bytes.");

    public static final List<ConfigKey> KEYS = List.of(BOOTSTRAP, INLINE_MAX_BYTES);

    public static IngestSettings from(Map<String, String> config) {
        String inline = config.getOrDefault(INLINE_MAX_BYTES.name(), INLINE_MAX_BYTES.defaultValue());
        try {
            return new IngestSettings(config.getOrDefault(BOOTSTRAP.name(), BOOTSTRAP.defaultValue()),
                    Integer.parseInt(inline.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(INLINE_MAX_BYTES.name() + " must be an integer, was '" + inline + "'", e);
        }
    }
}
