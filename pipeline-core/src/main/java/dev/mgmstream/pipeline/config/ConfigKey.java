package dev.mgmstream.pipeline.config;

import java.util.Objects;

/** A documented configuration key with its default ({@code null}: no default, must be given). */
public record ConfigKey(String name, String defaultValue, String description) {

    public ConfigKey {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
    }

    /** The environment variable that sets this key. */
    public String envName() {
        return LayeredConfig.envName(name);
    }
}
