package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * A stage never imports another stage, and none ships the development broker and registry: each can be
 * built, shipped and scaled on its own.
 */
class ModuleBoundariesTest {

    private static final Map<String, String> STAGES = Map.of(
            "ingest", "dev.mgmstream.ingest",
            "encoders-stream", "dev.mgmstream.encoders",
            "reasoning-stream", "dev.mgmstream.reasoning",
            "generation-stream", "dev.mgmstream.generation",
            "lake-sink", "dev.mgmstream.lake",
            "views-stream", "dev.mgmstream.views");

    @Test
    void noStageImportsAnotherStagesPackages() throws IOException {
        List<String> crossings = new ArrayList<>();
        for (Map.Entry<String, String> stage : STAGES.entrySet()) {
            Path sources = Home.dir().resolve(stage.getKey()).resolve("src/main/java");
            try (Stream<Path> files = Files.walk(sources)) {
                files.filter(f -> f.toString().endsWith(".java")).forEach(f -> {
                    for (String line : lines(f)) {
                        for (Map.Entry<String, String> other : STAGES.entrySet()) {
                            if (!other.equals(stage) && line.startsWith("import " + other.getValue() + ".")) {
                                crossings.add(Home.dir().relativize(f) + ": " + line);
                            }
                        }
                    }
                });
            }
        }
        assertThat(crossings).isEmpty();
    }

    @Test
    void onlyTheCommandAndTheTestsDependOnTheDevelopmentBroker() {
        List<String> shipped = new ArrayList<>();
        for (String module : List.of("schemas", "pipeline-core", "model-runtime", "object-store", "ingest",
                "encoders-stream", "reasoning-stream", "generation-stream", "lake-sink", "views-stream")) {
            for (String line : lines(Home.dir().resolve(module).resolve("pom.xml"))) {
                if (line.contains("<artifactId>devkit</artifactId>") && !line.contains("<scope>test</scope>")) {
                    shipped.add(module + ": " + line.trim());
                }
            }
        }
        assertThat(shipped).isEmpty();
    }

    private static List<String> lines(Path f) {
        try {
            return Files.readAllLines(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
