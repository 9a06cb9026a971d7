package dev.mgmstream.model.lm;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;

/**
 * A decoder backend found with {@link java.util.ServiceLoader}: module model-runtime-bound registers the
 * I/O-binding one. Providers are looked up only when the engine options ask for them, so a Java 17 runtime
 * never loads a class it cannot read.
 */
public interface DecoderBackendProvider {

    /** Loads the manifest's decoder graph with the engine options. */
    DecoderBackend open(ModelManifest manifest, EngineOptions engine);
}
