package dev.mgmstream.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository is: the bundled model and samples live there. {@code ./mgm} sets {@code mgm.home}. */
final class Home {

    private Home() {
    }

    static Path dir() {
        String home = System.getProperty("mgm.home");
        Path dir = home != null ? Path.of(home) : Path.of("");
        return dir.toAbsolutePath().normalize();
    }

    static Path model() {
        return dir().resolve("models/mgm-tiny");
    }

    /** The bundled generator (generation stage); when it is absent, reasoning answers generate tasks itself. */
    static Path generator() {
        return dir().resolve("models/mgm-gen-tiny");
    }

    static Path samples() {
        return dir().resolve("samples");
    }

    static Path requireModel() {
        Path model = model();
        if (!Files.isRegularFile(model.resolve("model.json"))) {
            throw new IllegalStateException("The bundled model is missing: no " + model.resolve("model.json")
                    + " (run from the repository, or set encoders.model.dir and reasoning.model.dirs)");
        }
        return model;
    }
}
