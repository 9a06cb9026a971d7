package dev.mgmstream.pipeline.stage;

import java.util.Objects;

/** A record to write, tied to the input it came from so its offset commits only together with it. */
public record Output<K, V>(int source, OutputTopic<K, V> topic, K key, V value) implements Emitted {

    public Output {
        Objects.requireNonNull(topic, "topic");
    }

    public static <K, V> Output<K, V> of(InputRecord<?, ?> from, OutputTopic<K, V> topic, K key, V value) {
        return new Output<>(from.index(), topic, key, value);
    }
}
