package dev.mgmstream.lake;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import dev.mgmstream.pipeline.config.ConfigKey;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LakeSettingsTest {

    @Test
    void defaultsAreALocalHadoopCatalog() {
        LakeSettings s = LakeSettings.from(Map.of());
        assertThat(s.catalogType()).isEqualTo("hadoop");
        assertThat(Path.of(s.warehouse())).isAbsolute().endsWithRaw(Path.of("lake"));
        assertThat(s.table().toString()).isEqualTo("mgm.answers");
    }

    @Test
    void aRestCatalogNeedsItsUriAndGetsItsProperties() {
        assertThatThrownBy(() -> LakeSettings.from(Map.of("lake.catalog.type", "rest")))
                .hasMessageContaining("lake.catalog.uri");
        LakeSettings s = LakeSettings.from(Map.of("lake.catalog.type", "rest", "lake.catalog.uri", "http://cat:8181",
                "lake.catalog.property.s3.endpoint", "http://minio:9000", "lake.warehouse", "s3://lake/w"));
        assertThat(s.catalogProperties()).containsExactlyEntriesOf(Map.of("s3.endpoint", "http://minio:9000"));
        assertThat(s.warehouse()).isEqualTo("s3://lake/w");
        assertThatThrownBy(() -> LakeSettings.from(Map.of("lake.catalog.type", "glue")))
                .hasMessageContaining("hadoop, rest or jdbc");
    }

    @Test
    void everyKeyIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey key : LakeSettings.KEYS) {
            assertThat(doc).as("docs/configuration.md documents " + key.name())
                    .contains("`" + key.name() + "`").contains("`" + key.envName() + "`");
        }
    }
}
