package dev.mgmstream.model.diffusion;

import java.nio.file.Path;

/** The parity checks on the bundled mgm-gen-tiny, or the generator {@code mgm.gen.model.dir} names. */
class BundledGeneratorParityTest extends TextToImageParityChecks {
    @Override
    Path modelDir() {
        return Path.of(System.getProperty("mgm.gen.model.dir", "../models/mgm-gen-tiny"));
    }
}
