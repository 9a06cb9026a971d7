package dev.mgmstream.pipeline.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.pipeline.stage.StageSettingsAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayeredConfigTest {

    private static final List<ConfigKey> KEYS = List.of(
            new ConfigKey("stage.batch.max.size", "64", "size"),
            new ConfigKey("stage.batch.linger.ms", "20", "linger"),
            new ConfigKey("stage.batch.retries", "3", "retries"),
            new ConfigKey("metrics.port", "-1", "port"));

    @Test
    void defaultsThenFileThenEnvironmentThenFlags(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("stage.properties");
        Files.writeString(file, "stage.batch.max.size=32\nstage.batch.linger.ms=40\nstage.batch.retries=5\n");
        Map<String, String> env = Map.of(
                "MGM_CONFIG_FILE", file.toString(),
                "MGM_STAGE_BATCH_LINGER_MS", "50",
                "MGM_STAGE_BATCH_RETRIES", "6",
                "MGM_KAFKA_CONSUMER_FETCH_MAX_BYTES", "1048576",
                "PATH", "/usr/bin");
        Map<String, String> flags = LayeredConfig.parseFlags("--stage.batch.retries=7");

        Map<String, String> config = LayeredConfig.resolve(KEYS, env, flags);

        assertThat(config)
                .containsEntry("metrics.port", "-1")
                .containsEntry("stage.batch.max.size", "32")
                .containsEntry("stage.batch.linger.ms", "50")
                .containsEntry("stage.batch.retries", "7")
                .containsEntry("kafka.consumer.fetch.max.bytes", "1048576")
                .doesNotContainKey("path");
    }

    @Test
    void environmentNamesMapBothWays() {
        assertThat(LayeredConfig.envName("stage.batch.max.size")).isEqualTo("MGM_STAGE_BATCH_MAX_SIZE");
        assertThat(LayeredConfig.fromEnvironment(Map.of("MGM_STAGE_BATCH_MAX_SIZE", "8")))
                .containsExactly(Map.entry("stage.batch.max.size", "8"));
    }

    @Test
    void flagsTakeBothFormsAndRefuseStrays() {
        assertThat(LayeredConfig.parseFlags("--a.b=1", "--c.d", "2")).containsEntry("a.b", "1").containsEntry("c.d", "2");
        assertThatThrownBy(() -> LayeredConfig.parseFlags("oops")).hasMessageContaining("oops");
        assertThatThrownBy(() -> LayeredConfig.parseFlags("--dangling")).hasMessageContaining("no value");
    }

    @Test
    void settingsDeriveClientTimeoutsAndPassKafkaSettingsThrough() {
        StageSettings s = StageSettings.from("enc", Map.of("stage.batch.timeout.ms", "120000",
                "stage.commit.timeout.ms", "40000", "kafka.consumer.fetch.max.bytes", "1024",
                "kafka.client.dns.lookup", "use_all_dns_ips"));
        assertThat(s.groupId()).isEqualTo("enc");
        assertThat(s.transactionalId()).isEqualTo("enc-0");
        assertThat(s.maxBuffered()).isEqualTo(128);
        assertThat(StageSettingsAccess.consumer(s))
                .containsEntry("max.poll.interval.ms", 190_000)
                .containsEntry("isolation.level", "read_committed")
                .containsEntry("enable.auto.commit", false)
                .containsEntry("fetch.max.bytes", "1024")
                .containsEntry("client.dns.lookup", "use_all_dns_ips");
        assertThat(StageSettingsAccess.producer(s))
                .containsEntry("transaction.timeout.ms", 40_000)
                .containsEntry("transactional.id", "enc-0")
                .doesNotContainKey("fetch.max.bytes");
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> StageSettings.from("x", Map.of("stage.batch.max.size", "many")))
                .hasMessageContaining("stage.batch.max.size");
        assertThatThrownBy(() -> StageSettings.from("x", Map.of("stage.inflight.on.revoke", "maybe")))
                .hasMessageContaining("stage.inflight.on.revoke");
    }

    @Test
    void everyStageKeyIsDocumentedInTheConfigurationTable() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey key : StageSettings.KEYS) {
            assertThat(doc).as("docs/configuration.md documents " + key.name())
                    .contains("`" + key.name() + "`").contains("`" + key.envName() + "`");
        }
    }
}
