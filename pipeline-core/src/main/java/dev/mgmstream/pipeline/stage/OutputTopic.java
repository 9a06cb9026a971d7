package dev.mgmstream.pipeline.stage;

import java.util.Objects;

import org.apache.kafka.common.serialization.Serializer;

/** A destination with the serializers for what is written to it. */
public record OutputTopic<K, V>(String name, Serializer<K> keySerializer, Serializer<V> valueSerializer) {

    public OutputTopic {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keySerializer, "keySerializer");
        Objects.requireNonNull(valueSerializer, "valueSerializer");
    }
}
