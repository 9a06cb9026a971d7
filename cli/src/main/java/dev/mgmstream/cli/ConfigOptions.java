package dev.mgmstream.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.mgmstream.generation.GenerationStage;
import dev.mgmstream.pipeline.config.LayeredConfig;
import picocli.CommandLine.Option;

/**
 * The configuration options every command shares: a properties file and single keys. Layers, later
 * winning: defaults, the file, {@code MGM_*} environment variables, {@code --set}, then the command's
 * own flags. Every key is documented in docs/configuration.md.
 */
final class ConfigOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with configuration keys (see docs/configuration.md).")
    Path file;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE",
            description = "One configuration key, e.g. --set stage.batch.max.size=16 (repeatable).")
    Map<String, String> values = new LinkedHashMap<>();

    /**
     * What the user set (file, environment, {@code --set}), with {@code overrides} (the command's own
     * flags) on top. Defaults are left out: each part fills in its own, and embedded mode puts its
     * one-process defaults under what the user set.
     */
    Map<String, String> resolve(Map<String, String> overrides) {
        Map<String, String> flags = new LinkedHashMap<>(values);
        if (file != null) {
            flags.put(LayeredConfig.CONFIG_FILE, file.toString());
        }
        flags.putAll(overrides);
        Map<String, String> resolved = new LinkedHashMap<>(LayeredConfig.resolve(List.of(), flags));
        // Without a generator there is no generation stage: unless told otherwise, the reasoning stage
        // itself answers a generate task (status ok, generation_prompt set), so every task ends with one result.
        if (System.getenv("MGM_REASONING_GENERATE_OUTPUT") == null && !generatorPresent(resolved)) {
            resolved.putIfAbsent("reasoning.generate.output", "answer");
        }
        return resolved;
    }

    /** Whether generation.model.dir (by default the bundled models/mgm-gen-tiny) holds a generator. */
    static boolean generatorPresent(Map<String, String> config) {
        return GenerationStage.modelPresent(Keys.withBundledModel(config));
    }
}
