package dev.mgmstream.pipeline.stage;

import java.util.Map;

import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;

/**
 * Makes a stage's Kafka clients. Production uses {@link #KAFKA}; fault-injection tests wrap the real
 * clients to fail at exactly the call they mean to test (a commit that times out, a lookup of the
 * committed offsets that the coordinator refuses).
 */
public interface ClientFactory {

    ClientFactory KAFKA = new ClientFactory() {
        @Override
        public Producer<byte[], byte[]> producer(Map<String, Object> config) {
            return new KafkaProducer<>(config);
        }

        @Override
        public Consumer<byte[], byte[]> consumer(Map<String, Object> config) {
            return new KafkaConsumer<>(config);
        }
    };

    Producer<byte[], byte[]> producer(Map<String, Object> config);

    Consumer<byte[], byte[]> consumer(Map<String, Object> config);
}
