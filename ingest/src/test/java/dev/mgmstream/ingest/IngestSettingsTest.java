package dev.mgmstream.ingest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import dev.mgmstream.pipeline.config.ConfigKey;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IngestSettingsTest {

    @Test
    void readsTheInlineLimit() {
        assertThat(IngestSettings.from(Map.of()).inlineMaxBytes()).isEqualTo(4 * 1024 * 1024);
        assertThat(IngestSettings.from(Map.of("ingest.inline.max.bytes", "10")).inlineMaxBytes()).isEqualTo(10);
        assertThatThrownBy(() -> IngestSettings.from(Map.of("ingest.inline.max.bytes", "big")))
                .hasMessageContaining("ingest.inline.max.bytes");
    }

    @Test
    void everyKeyIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey key : IngestSettings.KEYS) {
            assertThat(doc).as("docs/configuration.md documents " + key.name())
                    .contains("`" + key.name() + "`").contains("`" + key.envName() + "`");
        }
    }
}
