package dev.mgmstream.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mgmstream.pipeline.config.ConfigKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GenerationConfigTest {

    @Test
    void defaultsMeanTheManifestDecides() {
        GenerationConfig c = new GenerationConfig(Map.of());
        assertEquals(0, c.steps());
        assertTrue(Double.isNaN(c.guidance()));
        assertNull(c.negativePrompt());
        assertEquals(Path.of("models/mgm-gen-tiny"), c.modelDir());
    }

    @Test
    void badValuesFailAtStart() {
        assertThrows(IllegalArgumentException.class, () -> new GenerationConfig(Map.of("generation.steps", "-1")));
        assertThrows(IllegalArgumentException.class, () -> new GenerationConfig(Map.of("generation.guidance", "lots")));
        assertThrows(IllegalArgumentException.class,
                () -> new GenerationConfig(Map.of("generation.engine.provider", "abacus")));
    }

    @Test
    void everyKeyIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey key : GenerationConfig.KEYS) {
            assertTrue(doc.contains("`" + key.name() + "`") && doc.contains("`" + key.envName() + "`"),
                    "docs/configuration.md documents " + key.name());
        }
    }
}
