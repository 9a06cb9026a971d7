package dev.mgmstream.pipeline.stage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.kafka.TopicReader;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Topics, input records and output reading for stage tests on the shared in-process broker. */
final class StageTestKit {

    private StageTestKit() {
    }

    static String bootstrap() {
        return SharedKafka.bootstrapServers();
    }

    static void createTopics(int partitions, String... names) {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap()))) {
            List<NewTopic> topics = new ArrayList<>();
            for (String n : names) {
                topics.add(new NewTopic(n, Optional.of(partitions), Optional.empty()));
            }
            admin.createTopics(topics).all().get();
        } catch (InterruptedException | ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    static void produce(String topic, List<Map.Entry<String, byte[]>> records) {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(
                Map.of("bootstrap.servers", bootstrap(), "linger.ms", 5),
                new StringSerializer(), new org.apache.kafka.common.serialization.ByteArraySerializer())) {
            for (Map.Entry<String, byte[]> r : records) {
                producer.send(new ProducerRecord<>(topic, r.getKey(), r.getValue()));
            }
            producer.flush();
        }
    }

    static void produceStrings(String topic, Map<String, String> keyToValue) {
        List<Map.Entry<String, byte[]>> records = new ArrayList<>();
        keyToValue.forEach((k, v) -> records.add(Map.entry(k, v.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
        produce(topic, records);
    }

    /** Everything in the topic as an isolation level sees it, read to the current end. */
    static List<ConsumerRecord<String, byte[]>> readAll(String topic, boolean committedOnly) {
        return committedOnly ? TopicReader.committed(bootstrap(), topic, new ByteArrayDeserializer())
                : TopicReader.uncommitted(bootstrap(), topic);
    }

    static Map<String, Long> countByKey(List<ConsumerRecord<String, byte[]>> records) {
        return records.stream().collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
    }

    static Map<String, String> settings(String... keyValues) {
        Map<String, String> m = new HashMap<>();
        m.put("bootstrap.servers", bootstrap());
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    static String text(byte[] bytes) {
        return bytes == null ? null : new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }
}
