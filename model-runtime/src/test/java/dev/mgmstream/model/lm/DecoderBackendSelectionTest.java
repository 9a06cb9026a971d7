package dev.mgmstream.model.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import org.junit.jupiter.api.Test;

/**
 * Which decoder a model loads: DJL's by default; with I/O binding asked for, the one a provider on the class
 * path offers, and where none is (this module alone, as on a build without a JDK 22+), a refusal at load time
 * that names the key and the missing module rather than a failure in the middle of serving.
 */
class DecoderBackendSelectionTest {

    @Test
    void theDefaultIsDjlsAndIoBindingWithoutItsModuleIsRefusedWithTheKeyNamed() {
        ModelManifest m = ModelManifest.load(GoldenTasks.modelDir());
        try (LanguageModel lm = LanguageModel.load(m, EngineOptions.cpu(1))) {
            assertThat(lm.decoderBackend()).isEqualTo("djl");
        }
        assertThatThrownBy(() -> LanguageModel.load(m, EngineOptions.cpu(1).withIoBinding(true)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("reasoning.engine.io.binding")
                .hasMessageContaining("model-runtime-bound");
    }
}
