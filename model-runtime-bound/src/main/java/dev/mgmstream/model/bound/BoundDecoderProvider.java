package dev.mgmstream.model.bound;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.DecoderBackend;
import dev.mgmstream.model.lm.DecoderBackendProvider;

/** Registers {@link BoundDecoder} with {@link java.util.ServiceLoader}. */
public final class BoundDecoderProvider implements DecoderBackendProvider {

    @Override
    public DecoderBackend open(ModelManifest manifest, EngineOptions engine) {
        return new BoundDecoder(manifest, engine);
    }
}
