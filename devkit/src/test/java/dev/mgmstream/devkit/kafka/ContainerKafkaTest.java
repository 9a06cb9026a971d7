package dev.mgmstream.devkit.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The same transactional round trip as {@link EmbeddedKafkaTest}, against the official
 * {@code apache/kafka} image, so the in-process broker is checked against the real distribution.
 * Without a Docker engine the class is skipped, never failed.
 */
@Testcontainers(disabledWithoutDocker = true)
class ContainerKafkaTest {

    @Container
    static final KafkaContainer KAFKA = new KafkaContainer("apache/kafka:4.1.1");

    @Test
    void transactionalRoundTripOnTheOfficialImage() throws Exception {
        String bootstrap = KAFKA.getBootstrapServers();
        EmbeddedKafkaTest.createTopic(bootstrap, "container-txn");
        try (KafkaProducer<String, String> producer = EmbeddedKafkaTest.producer(bootstrap, "c-1")) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>("container-txn", "k", "aborted"));
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>("container-txn", "k", "committed"));
            producer.commitTransaction();
        }
        assertThat(EmbeddedKafkaTest.readAll(bootstrap, "container-txn", 1)).containsExactly("committed");
    }
}
