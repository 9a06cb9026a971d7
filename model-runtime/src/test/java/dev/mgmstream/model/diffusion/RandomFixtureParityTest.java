package dev.mgmstream.model.diffusion;

import java.nio.file.Path;

/** The parity checks on the small random fixture (export_gen.py --random-fixture). */
class RandomFixtureParityTest extends TextToImageParityChecks {
    @Override
    Path modelDir() {
        return Path.of("src/test/resources/generator-fixture");
    }
}
