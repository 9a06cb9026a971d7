package dev.mgmstream.pipeline.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import dev.mgmstream.pipeline.kafka.KafkaClientConfigs.Kind;
import org.junit.jupiter.api.Test;

class KafkaClientConfigsTest {

    private final Map<String, String> config = Map.of(
            "kafka.security.protocol", "SASL_SSL",
            "kafka.sasl.mechanism", "SCRAM-SHA-512",
            "kafka.consumer.fetch.max.bytes", "1048576",
            "kafka.producer.security.protocol", "SSL",
            "kafka.admin.request.timeout.ms", "5000",
            "stage.batch.max.size", "8");

    @Test
    void settingsForEveryClientReachEachKindAndAKindsOwnWin() {
        assertThat(KafkaClientConfigs.passThrough(config, Kind.CONSUMER)).containsOnly(
                Map.entry("security.protocol", "SASL_SSL"), Map.entry("sasl.mechanism", "SCRAM-SHA-512"),
                Map.entry("fetch.max.bytes", "1048576"));
        assertThat(KafkaClientConfigs.passThrough(config, Kind.PRODUCER)).containsOnly(
                Map.entry("security.protocol", "SSL"), Map.entry("sasl.mechanism", "SCRAM-SHA-512"));
        assertThat(KafkaClientConfigs.of("broker:9093", config, Kind.ADMIN)).containsOnly(
                Map.entry("bootstrap.servers", "broker:9093"), Map.entry("security.protocol", "SASL_SSL"),
                Map.entry("sasl.mechanism", "SCRAM-SHA-512"), Map.entry("request.timeout.ms", "5000"));
    }

    @Test
    void aStreamsConfigurationGetsThePerKindSettingsUnderStreamsOwnPrefixes() {
        assertThat(KafkaClientConfigs.streams("broker:9093", config)).containsOnly(
                Map.entry("bootstrap.servers", "broker:9093"), Map.entry("security.protocol", "SASL_SSL"),
                Map.entry("sasl.mechanism", "SCRAM-SHA-512"), Map.entry("consumer.fetch.max.bytes", "1048576"),
                Map.entry("producer.security.protocol", "SSL"), Map.entry("admin.request.timeout.ms", "5000"));
    }
}
