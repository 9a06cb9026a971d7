package dev.mgmstream.encoders;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.pipeline.config.ConfigKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every key is documented, typed values parse, and the topic size check refuses what cannot fit. */
class EncodersConfigTest {

    @Test
    void everyKeyIsInTheConfigurationTable() throws Exception {
        String docs = Files.readString(Path.of("../docs/configuration.md"));
        for (ConfigKey k : EncodersConfig.KEYS) {
            assertThat(docs).as(k.name()).contains("| `" + k.name() + "` | `" + k.envName() + "` |");
        }
    }

    @Test
    void typedViewsOfTheKeys() {
        EncodersConfig c = new EncodersConfig(Map.of(
                "encoders.engine.provider", "tensorrt",
                "encoders.engine.trt.cache.dir", "/var/cache/trt",
                "encoders.engine.trt.profile.max.shapes", "pixel_values:32x3x96x96",
                "encoders.source.http.allowed.hosts", " images.example.com, *.cdn.example.com ,",
                "encoders.image.max.pixels", "1000"));
        EngineOptions engine = c.engine();
        assertThat(engine.provider()).isEqualTo("tensorrt");
        assertThat(engine.trtCacheDir()).isEqualTo("/var/cache/trt");
        assertThat(engine.trtProfiles()).containsOnly(Map.entry("trt_profile_max_shapes", "pixel_values:32x3x96x96"));
        assertThat(c.http().allowedHosts()).containsExactly("images.example.com", "*.cdn.example.com");
        assertThat(c.http().enabled()).isFalse();
        assertThat(c.limits().maxPixels()).isEqualTo(1000);
        assertThat(new EncodersConfig(Map.of()).engine().provider()).isEqualTo("cpu");
        assertThatThrownBy(() -> new EncodersConfig(Map.of("encoders.cache.enabled", "yes")).flag(EncodersConfig.CACHE_ENABLED))
                .hasMessageContaining("encoders.cache.enabled");
    }

    @Test
    void inlineTokensMustFitTheTopicsAndTheProducerFollowsThem() {
        assertThatThrownBy(() -> EncodersStage.open(Map.of("encoders.tokens.inline.max.bytes", "8388608"), null,
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry()))
                .hasMessageContaining("encoders.tokens.inline.max.bytes")
                .hasMessageContaining("topics.visual-tokens.max.message.bytes");
        assertThat(EncodersStage.settings(Map.of("topics.dlq.encoders.max.message.bytes", "20000000")).config())
                .containsEntry("kafka.producer.max.request.size", "20000000");
        var given = dev.mgmstream.pipeline.stage.StageSettings.from(EncodersStage.NAME,
                Map.of("stage.group.id", "enc-a", "stage.batch.max.size", "8"));
        var fitted = EncodersStage.fitted(given);
        assertThat(fitted.groupId()).isEqualTo("enc-a");
        assertThat(fitted.batchMaxSize()).isEqualTo(8);
        assertThat(fitted.config()).containsEntry("kafka.producer.max.request.size", "8388608");
        var explicit = EncodersStage.settings(Map.of("kafka.producer.max.request.size", "2000000"));
        assertThat(explicit.config()).containsEntry("kafka.producer.max.request.size", "2000000");
    }
}
