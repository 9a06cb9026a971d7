package dev.mgmstream.views;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

import dev.mgmstream.pipeline.config.ConfigKey;
import org.junit.jupiter.api.Test;

class ViewsConfigTest {

    @Test
    void streamsRunExactlyOnceAndTheKafkaKeysReachTheirClients() {
        Properties p = new ViewsConfig(Map.of("bootstrap.servers", "k:9092", "stage.instance.id", "v7",
                "views.state.dir", "/var/views", "kafka.security.protocol", "SSL",
                "kafka.consumer.fetch.max.bytes", "1000", "kafka.producer.linger.ms", "5"))
                .streamsProperties("views-0.views:7070");
        assertThat(p).containsEntry("processing.guarantee", "exactly_once_v2")
                .containsEntry("consumer.isolation.level", "read_committed")
                .containsEntry("application.id", "views")
                .containsEntry("application.server", "views-0.views:7070")
                .containsEntry("bootstrap.servers", "k:9092")
                .containsEntry("state.dir", Path.of("/var/views", "v7").toString())
                .containsEntry("security.protocol", "SSL")
                .containsEntry("consumer.fetch.max.bytes", "1000")
                .containsEntry("producer.linger.ms", "5");
    }

    @Test
    void badValuesFailAtStart() {
        assertThatThrownBy(() -> new ViewsConfig(Map.of("views.image.report.max.answers", "0")))
                .hasMessageContaining("views.image.report.max.answers");
        assertThatThrownBy(() -> new ViewsConfig(Map.of("views.http.port", "-1"))).hasMessageContaining("views.http.port");
    }

    @Test
    void everyKeyIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey key : ViewsConfig.KEYS) {
            assertThat(doc).as("docs/configuration.md documents " + key.name())
                    .contains("`" + key.name() + "`").contains("`" + key.envName() + "`");
        }
    }
}
