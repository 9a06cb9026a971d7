package dev.mgmstream.devkit.registry;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The registry's durable store: one compacted single-partition topic. One partition keeps a total order of
 * registrations, so replaying it assigns every id and version exactly as they were first assigned.
 * Not thread-safe: the service calls it under its own lock.
 */
final class SchemaLog implements AutoCloseable {
    private final RegistryServerConfig config;
    private final TopicPartition partition;
    private final LogCodec codec = new LogCodec();
    private final KafkaConsumer<String, String> consumer;
    private final KafkaProducer<String, String> producer;

    SchemaLog(RegistryServerConfig config) {
        this.config = config;
        this.partition = new TopicPartition(config.topic(), 0);
        ensureTopic();
        this.consumer = new KafkaConsumer<>(consumerProperties(), new StringDeserializer(), new StringDeserializer());
        this.producer = new KafkaProducer<>(producerProperties(), new StringSerializer(), new StringSerializer());
        consumer.assign(List.of(partition));
        consumer.seekToBeginning(List.of(partition));
    }

    /** Hands every entry written since the last call (all of them, the first time) to {@code sink}. */
    void catchUp(Consumer<LogEntry> sink) {
        long deadline = System.nanoTime() + config.storeTimeout().toNanos();
        long end = consumer.endOffsets(List.of(partition), config.storeTimeout()).get(partition);
        while (consumer.position(partition, config.storeTimeout()) < end) {
            if (System.nanoTime() > deadline) {
                throw new RegistryError(500, 50002, "Timed out reading the schemas topic " + config.topic()
                        + " to offset " + end + " after " + config.storeTimeout().toMillis() + " ms");
            }
            for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(100))) {
                codec.decode(record.key(), record.value()).ifPresent(sink);
            }
        }
    }

    /** Writes the entry and returns once the broker has it, so that an answered registration is never lost. */
    void append(LogEntry entry) {
        try {
            producer.send(new ProducerRecord<>(config.topic(), 0, codec.key(entry), codec.value(entry)))
                    .get(config.storeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new RegistryError(500, 50001, "Error while storing " + entry + " in the schemas topic "
                    + config.topic() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryError(500, 50001, "Interrupted while storing " + entry, e);
        }
    }

    private void ensureTopic() {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers()))) {
            NewTopic topic = new NewTopic(config.topic(), 1, config.replicationFactor())
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
            try {
                admin.createTopics(List.of(topic)).all().get(timeoutMs(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
            checkExistingTopic(admin);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("Could not create or inspect the schemas topic " + config.topic()
                    + " on " + config.bootstrapServers() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while creating the schemas topic " + config.topic(), e);
        }
    }

    /** A topic made by someone else must still be one compacted partition, or ids could be lost or reordered. */
    private void checkExistingTopic(Admin admin) throws ExecutionException, InterruptedException, TimeoutException {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, config.topic());
        TopicDescription description = whenVisible(() -> admin.describeTopics(List.of(config.topic())).allTopicNames()
                .get(timeoutMs(), TimeUnit.MILLISECONDS).get(config.topic()));
        Config topicConfig = whenVisible(() -> admin.describeConfigs(List.of(resource)).all()
                .get(timeoutMs(), TimeUnit.MILLISECONDS).get(resource));
        String policy = topicConfig.get(TopicConfig.CLEANUP_POLICY_CONFIG).value();
        if (description.partitions().size() != 1 || !policy.equals(TopicConfig.CLEANUP_POLICY_COMPACT)) {
            throw new IllegalStateException("The schemas topic " + config.topic() + " has "
                    + description.partitions().size() + " partitions and cleanup.policy=" + policy
                    + "; the registry needs exactly 1 partition and cleanup.policy=compact. Delete it or name another"
                    + " topic with registry.topic");
        }
    }

    private interface AdminCall<T> {
        T get() throws ExecutionException, InterruptedException, TimeoutException;
    }

    /** A topic just created may not have reached the broker's metadata yet: retry until it has, within the timeout. */
    private <T> T whenVisible(AdminCall<T> call) throws ExecutionException, InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + config.storeTimeout().toNanos();
        while (true) {
            try {
                return call.get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    private Properties consumerProperties() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "schema-registry-" + config.topic() + "-reader");
        return props;
    }

    private Properties producerProperties() {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(Math.max(timeoutMs(), 1000)));
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(Math.min(timeoutMs(), 30_000)));
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "schema-registry-" + config.topic() + "-writer");
        return props;
    }

    private long timeoutMs() {
        return config.storeTimeout().toMillis();
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
        consumer.close(Duration.ofSeconds(5));
    }
}
