package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RegistryServerConfigTest {

    @Test
    void defaultsAndOverrides() {
        RegistryServerConfig defaults = RegistryServerConfig.fromMap(Map.of("bootstrap.servers", "k:9092"));
        assertThat(defaults).isEqualTo(new RegistryServerConfig("k:9092", "127.0.0.1", 8081, "_schemas", (short) 1,
                CompatibilityLevel.BACKWARD, Duration.ofSeconds(30)));

        RegistryServerConfig custom = RegistryServerConfig.fromMap(Map.of(
                "bootstrap.servers", "k:9092", "registry.port", "0", "registry.topic", "_schemas_dev",
                "registry.compatibility", "full_transitive", "registry.store.timeout.ms", "500"));
        assertThat(custom.port()).isZero();
        assertThat(custom.topic()).isEqualTo("_schemas_dev");
        assertThat(custom.defaultCompatibility()).isEqualTo(CompatibilityLevel.FULL_TRANSITIVE);
        assertThat(custom.storeTimeout()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void namesWhatIsWrong() {
        assertThatThrownBy(() -> RegistryServerConfig.fromMap(Map.of())).hasMessageContaining("bootstrap.servers");
        assertThatThrownBy(() -> RegistryServerConfig.fromMap(Map.of("bootstrap.servers", "k", "registry.port", "70000")))
                .hasMessageContaining("registry.port");
        assertThatThrownBy(() -> RegistryServerConfig.fromMap(Map.of("bootstrap.servers", "k", "registry.compatibility", "loose")))
                .hasMessageContaining("loose");
    }
}
