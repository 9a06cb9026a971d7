package dev.mgmstream.pipeline.stage;

import java.util.List;
import java.util.Objects;

import org.apache.kafka.common.serialization.Deserializer;

/**
 * What a stage is, as its code defines it: a name, the topics it reads and how to decode them, the
 * batch function, and where rejected inputs go. How it runs (batch sizes, timeouts, brokers) comes
 * from {@link StageSettings}, i.e. from configuration.
 *
 * <pre>{@code
 * StageDefinition<String, String> upper = StageDefinition.<String, String>builder("upper")
 *         .setInput(List.of("words"), new StringDeserializer(), new StringDeserializer())
 *         .setBatchFunction(batch -> batch.stream()
 *                 .<Emitted>map(in -> Output.of(in, out, in.key(), in.value().toUpperCase()))
 *                 .toList())
 *         .setDeadLetterTopic("words.dlq")
 *         .build();
 * }</pre>
 */
public record StageDefinition<K, V>(String name, List<String> inputTopics, Deserializer<K> keyDeserializer,
                                    Deserializer<V> valueDeserializer, BatchFunction<K, V> batchFunction,
                                    String deadLetterTopic, DeadLetterEncoder deadLetterEncoder,
                                    RejectionHook<K, V> rejectionHook) {

    public StageDefinition {
        Objects.requireNonNull(name, "name");
        if (inputTopics == null || inputTopics.isEmpty()) {
            throw new IllegalArgumentException("Stage " + name + " reads no topic");
        }
        inputTopics = List.copyOf(inputTopics);
        Objects.requireNonNull(keyDeserializer, "keyDeserializer");
        Objects.requireNonNull(valueDeserializer, "valueDeserializer");
        Objects.requireNonNull(batchFunction, "batchFunction");
        Objects.requireNonNull(deadLetterTopic, "deadLetterTopic of stage " + name);
        Objects.requireNonNull(deadLetterEncoder, "deadLetterEncoder");
        Objects.requireNonNull(rejectionHook, "rejectionHook");
        if (inputTopics.contains(deadLetterTopic)) {
            throw new IllegalArgumentException("Stage " + name + " would read its own dead-letter topic " + deadLetterTopic);
        }
    }

    public static <K, V> Builder<K, V> builder(String name) {
        return new Builder<>(name);
    }

    /** {@code set*} for what is required, {@code opt*} for what has a default. */
    public static final class Builder<K, V> {
        private final String name;
        private List<String> topics;
        private Deserializer<K> keyDeserializer;
        private Deserializer<V> valueDeserializer;
        private BatchFunction<K, V> function;
        private String deadLetterTopic;
        private DeadLetterEncoder encoder = DeadLetterEncoder.originalBytes();
        private RejectionHook<K, V> hook = RejectionHook.none();

        private Builder(String name) {
            this.name = name;
        }

        public Builder<K, V> setInput(List<String> inputTopics, Deserializer<K> keys, Deserializer<V> values) {
            this.topics = inputTopics;
            this.keyDeserializer = keys;
            this.valueDeserializer = values;
            return this;
        }

        public Builder<K, V> setBatchFunction(BatchFunction<K, V> batchFunction) {
            this.function = batchFunction;
            return this;
        }

        public Builder<K, V> setDeadLetterTopic(String topic) {
            this.deadLetterTopic = topic;
            return this;
        }

        public Builder<K, V> optDeadLetterEncoder(DeadLetterEncoder deadLetterEncoder) {
            this.encoder = deadLetterEncoder;
            return this;
        }

        public Builder<K, V> optRejectionHook(RejectionHook<K, V> rejectionHook) {
            this.hook = rejectionHook;
            return this;
        }

        public StageDefinition<K, V> build() {
            return new StageDefinition<>(name, topics, keyDeserializer, valueDeserializer, function, deadLetterTopic,
                    encoder, hook);
        }
    }
}
