package dev.mgmstream.devkit.kafka;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Proves a broker usable the way stages use it: a transactional write that a {@code read_committed}
 * reader then sees. A port that accepts connections is not enough; the transaction coordinator and
 * the group coordinator come up later than the listener.
 */
final class ReadinessProbe {

    static final String TOPIC = "__mgm_readiness";

    /**
     * The clients' backoffs grow to a second while the node is still coming up (listener not yet
     * bound, coordinators loading); polling a local node every 50 ms costs nothing and saves those
     * seconds on every start.
     */
    private static final Map<String, Object> FAST_RETRIES = Map.of(
            CommonClientConfigs.RETRY_BACKOFF_MS_CONFIG, 20,
            CommonClientConfigs.RETRY_BACKOFF_MAX_MS_CONFIG, 50,
            CommonClientConfigs.RECONNECT_BACKOFF_MS_CONFIG, 20,
            CommonClientConfigs.RECONNECT_BACKOFF_MAX_MS_CONFIG, 50);

    private ReadinessProbe() {
    }

    static void await(String bootstrap, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        createTopic(bootstrap, deadline);
        String marker = UUID.randomUUID().toString();
        produceTransactionally(bootstrap, marker);
        consume(bootstrap, marker, deadline);
    }

    private static void createTopic(String bootstrap, long deadline) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.putAll(FAST_RETRIES);
        try (Admin admin = Admin.create(p)) {
            while (true) {
                try {
                    admin.createTopics(List.of(new NewTopic(TOPIC, Optional.of(1), Optional.empty())))
                            .all().get();
                    return;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException) {
                        return;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("Broker never accepted a topic creation", e.getCause());
                    }
                    pause();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("Interrupted while waiting for the broker", e);
                }
            }
        }
    }

    private static void produceTransactionally(String bootstrap, String marker) {
        Map<String, Object> p = new HashMap<>(FAST_RETRIES);
        p.putAll(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "mgm-readiness-" + marker,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class));
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(TOPIC, marker, marker));
            producer.commitTransaction();
        }
    }

    private static void consume(String bootstrap, String marker, long deadline) {
        Map<String, Object> p = new HashMap<>(FAST_RETRIES);
        p.putAll(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 50,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class));
        TopicPartition tp = new TopicPartition(TOPIC, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    if (marker.equals(r.value())) {
                        return;
                    }
                }
            }
        }
        throw new IllegalStateException("Broker accepted a transactional record but never served it back");
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for the broker", e);
        }
    }
}
