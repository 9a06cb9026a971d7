package dev.mgmstream.devkit.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaTest {

    @Test
    void abortedTransactionsStayInvisibleToReadCommitted() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults())) {
            String topic = "txn-visibility";
            createTopic(kafka.bootstrapServers(), topic);
            try (KafkaProducer<String, String> producer = producer(kafka.bootstrapServers(), "t-1")) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topic, "k", "aborted"));
                producer.abortTransaction();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topic, "k", "committed"));
                producer.commitTransaction();
            }
            assertThat(readAll(kafka.bootstrapServers(), topic, 1)).containsExactly("committed");
        }
    }

    @Test
    void keptDataDirectoryKeepsTopicsAcrossRestarts(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("kafka");
        EmbeddedKafka.Options options = EmbeddedKafka.Options.defaults().withDataDir(data);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(options)) {
            createTopic(kafka.bootstrapServers(), "durable");
            try (KafkaProducer<String, String> producer = producer(kafka.bootstrapServers(), "t-2")) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("durable", "k", "survives"));
                producer.commitTransaction();
            }
        }
        assertThat(Files.exists(data.resolve("meta.properties"))).isTrue();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(options)) {
            assertThat(readAll(kafka.bootstrapServers(), "durable", 1)).containsExactly("survives");
        }
    }

    @Test
    void temporaryDataDirectoryIsDeletedOnClose() {
        Path data;
        try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults())) {
            data = kafka.dataDir();
            assertThat(data).exists();
        }
        assertThat(data).doesNotExist();
    }

    static void createTopic(String bootstrap, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty()))).all().get();
        }
    }

    static KafkaProducer<String, String> producer(String bootstrap, String txnId) {
        return new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap, "transactional.id", txnId),
                new StringSerializer(), new StringSerializer());
    }

    /** Reads until {@code expected} records arrived, then a little longer to catch extras. */
    static List<String> readAll(String bootstrap, String topic, int expected) {
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                Map.of("bootstrap.servers", bootstrap, "isolation.level", "read_committed"),
                new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(Set.of(tp));
            consumer.seekToBeginning(Set.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                }
                long end = consumer.endOffsets(Set.of(tp)).get(tp);
                if (values.size() >= expected && consumer.position(tp) >= end) {
                    break;
                }
            }
        }
        return values;
    }
}
