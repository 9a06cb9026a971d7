package dev.mgmstream.pipeline.stage;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A record to write, tied to the inputs it came from so its offset commits only together with them.
 *
 * <p>Most outputs stand for one input. One that stands for several ({@link #shared}: the encoders'
 * tokens for an image that several tasks ask about) binds them together: if it cannot be written,
 * every one of them is rejected, since none of them would otherwise get an answer.
 *
 * @param source the first input this output stands for
 * @param alsoFor the other inputs it stands for, if it is shared
 * @param headers Kafka headers to write with it (UTF-8 strings)
 */
public record Output<K, V>(int source, List<Integer> alsoFor, OutputTopic<K, V> topic, K key, V value,
                           Map<String, String> headers) implements Emitted {

    public Output {
        Objects.requireNonNull(topic, "topic");
        alsoFor = List.copyOf(alsoFor);
        headers = Map.copyOf(headers);
    }

    public Output(int source, OutputTopic<K, V> topic, K key, V value) {
        this(source, List.of(), topic, key, value, Map.of());
    }

    public static <K, V> Output<K, V> of(InputRecord<?, ?> from, OutputTopic<K, V> topic, K key, V value) {
        return new Output<>(from.index(), topic, key, value);
    }

    /** One output standing for several inputs, which then succeed or fail together. */
    public static <K, V> Output<K, V> shared(List<? extends InputRecord<?, ?>> from, OutputTopic<K, V> topic, K key,
                                             V value) {
        if (from.isEmpty()) {
            throw new IllegalArgumentException("a shared output needs at least one input");
        }
        List<Integer> rest = new ArrayList<>(from.size() - 1);
        for (int i = 1; i < from.size(); i++) {
            rest.add(from.get(i).index());
        }
        return new Output<>(from.get(0).index(), rest, topic, key, value, Map.of());
    }

    /** This output with one more header; the dead-letter record of its input carries its headers too. */
    public Output<K, V> withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new Output<>(source, alsoFor, topic, key, this.value, more);
    }

    /** Every input this output stands for, {@link #source()} first. */
    public List<Integer> sources() {
        if (alsoFor.isEmpty()) {
            return List.of(source);
        }
        List<Integer> all = new ArrayList<>(alsoFor.size() + 1);
        all.add(source);
        all.addAll(alsoFor);
        return all;
    }
}
