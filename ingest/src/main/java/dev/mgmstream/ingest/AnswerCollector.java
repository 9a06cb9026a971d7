package dev.mgmstream.ingest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroDeserializer;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the answers topic ({@code read_committed}) without a consumer group: every partition
 * assigned, from a position the caller chooses. A run marks the end before it publishes, so it sees
 * exactly the answers written after that.
 */
public final class AnswerCollector implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AnswerCollector.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final AvroDeserializer<Answer> answers;
    private final List<TopicPartition> partitions;

    public AnswerCollector(Map<String, String> config, SchemaRegistryClient registry) {
        String topic = TopicCatalogue.fromConfig(config).name(TopicRole.ANSWERS);
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, IngestSettings.from(config).bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "mgm-results");
        p.putAll(KafkaClientConfigs.passThrough(config, KafkaClientConfigs.Kind.CONSUMER)); // TLS, SASL...
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.answers = AvroSerdes.valueDeserializer(Answer.class, registry);
        this.partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(info -> new TopicPartition(topic, info.partition())).toList();
        consumer.assign(partitions);
    }

    /** Reads only what is written from now on. */
    public AnswerCollector fromEnd() {
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
        end.forEach(consumer::seek);
        return this;
    }

    public AnswerCollector fromBeginning() {
        consumer.seekToBeginning(partitions);
        return this;
    }

    /** Whether every partition has been read to the end offsets of this moment. */
    public boolean caughtUp() {
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
        return partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp));
    }

    /** The answers that arrived within {@code timeout}; records that do not decode are skipped. */
    public List<Answer> poll(Duration timeout) {
        List<Answer> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : consumer.poll(timeout)) {
            try {
                Answer a = answers.deserialize(r.topic(), r.value());
                if (a != null) {
                    out.add(a);
                }
            } catch (RuntimeException e) {
                log.warn("Skipping an answer that does not decode at {}-{}@{}: {}", r.topic(), r.partition(),
                        r.offset(), e.getMessage());
            }
        }
        return out;
    }

    /** Makes a blocked {@link #poll} return at once (from another thread). */
    public void wakeup() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        consumer.close();
    }
}
