package dev.mgmstream.reasoning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.pipeline.config.ConfigKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReasoningConfigTest {

    @Test
    void defaultsGiveContinuousBatchingOverThirtyTwoSlotsOnTheCpu() {
        ReasoningConfig c = new ReasoningConfig(Map.of());
        BatchingOptions b = c.batching();
        assertThat(b.mode()).isEqualTo(BatchingOptions.Mode.CONTINUOUS);
        assertThat(b.slots()).isEqualTo(32);
        assertThat(b.admitMinFree()).isEqualTo(8);
        assertThat(c.engine().provider()).isEqualTo("cpu");
        assertThat(c.engine().ioBinding()).isFalse();
        assertThat(c.generateOutput()).isEqualTo(ReasoningConfig.GenerateOutput.REQUEST);
        assertThat(c.modelDirs()).containsExactly(Path.of("models/mgm-tiny"));
    }

    @Test
    void keysAreParsed() {
        ReasoningConfig c = new ReasoningConfig(Map.of("reasoning.lm.slots", "8", "reasoning.lm.batching", "STATIC",
                "reasoning.generate.output", "both", "reasoning.model.dirs", "a, b", "reasoning.max.new.tokens", "12"));
        assertThat(c.batching()).isEqualTo(BatchingOptions.staticBatches(8));
        assertThat(c.generateOutput()).isEqualTo(ReasoningConfig.GenerateOutput.BOTH);
        assertThat(c.modelDirs()).containsExactly(Path.of("a"), Path.of("b"));
        assertThat(c.maxNewTokens()).isEqualTo(12);
        assertThat(new ReasoningConfig(Map.of("reasoning.engine.provider", "cuda", "reasoning.engine.io.binding", "true"))
                .engine()).extracting(e -> e.provider(), e -> e.ioBinding()).containsExactly("cuda", true);
    }

    @Test
    void badValuesFailAtStartWithTheKeyNamed() {
        assertThatThrownBy(() -> new ReasoningConfig(Map.of("reasoning.lm.batching", "dynamic")))
                .hasMessageContaining("reasoning.lm.batching");
        assertThatThrownBy(() -> new ReasoningConfig(Map.of("reasoning.lm.slots", "0")))
                .hasMessageContaining("reasoning.lm.slots");
        assertThatThrownBy(() -> new ReasoningConfig(Map.of("reasoning.generate.output", "images")))
                .hasMessageContaining("reasoning.generate.output");
        assertThatThrownBy(() -> new ReasoningConfig(Map.of("reasoning.engine.provider", "rocm")))
                .hasMessageContaining("cpu, cuda or tensorrt");
        assertThatThrownBy(() -> new ReasoningConfig(Map.of("reasoning.sampling.top.k", "x")))
                .hasMessageContaining("reasoning.sampling.top.k");
    }

    @Test
    void everyKeyIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey key : ReasoningConfig.KEYS) {
            assertThat(doc).as("docs/configuration.md documents " + key.name())
                    .contains("`" + key.name() + "`").contains("`" + key.envName() + "`");
        }
    }
}
