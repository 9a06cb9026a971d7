package dev.mgmstream.pipeline.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads a whole topic from the beginning to its current end, as tests check a stage's output. */
public final class TopicReader {

    private TopicReader() {
    }

    /**
     * Every committed record. A producer's {@code commitTransaction} returns before the coordinator
     * has written the commit markers into the data partitions, so a read_committed reader that starts
     * right after a stage reports a commit can find the last stable offset short of it. The reader
     * therefore waits (up to 30 s) for the stable offset to reach the log end, which it does once no
     * transaction is open: tests read after the stage has gone quiet.
     */
    public static <T> List<ConsumerRecord<String, T>> committed(String bootstrap, String topic,
            Deserializer<T> values) {
        return read(bootstrap, topic, values, true);
    }

    /** Every record written, committed or not (aborted transactions included). */
    public static List<ConsumerRecord<String, byte[]>> uncommitted(String bootstrap, String topic) {
        return read(bootstrap, topic, new ByteArrayDeserializer(), false);
    }

    private static <T> List<ConsumerRecord<String, T>> read(String bootstrap, String topic, Deserializer<T> values,
            boolean committedOnly) {
        List<ConsumerRecord<String, T>> out = new ArrayList<>();
        try (KafkaConsumer<String, T> c = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap,
                "isolation.level", committedOnly ? "read_committed" : "read_uncommitted"),
                new StringDeserializer(), values);
             KafkaConsumer<byte[], byte[]> logEnd = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap,
                     "isolation.level", "read_uncommitted"), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            while (committedOnly && !end.equals(logEnd.endOffsets(parts)) && System.nanoTime() < deadline) {
                sleep();
                end = c.endOffsets(parts);
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> until = end;
            deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline && !parts.stream().allMatch(tp -> c.position(tp) >= until.get(tp))) {
                c.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }

    private static void sleep() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
