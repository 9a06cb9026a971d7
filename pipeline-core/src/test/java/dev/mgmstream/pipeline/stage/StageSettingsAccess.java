package dev.mgmstream.pipeline.stage;

import java.util.Map;

/** Lets tests in other packages see the derived client settings. */
public final class StageSettingsAccess {

    private StageSettingsAccess() {
    }

    public static Map<String, Object> consumer(StageSettings s) {
        return s.consumerConfig();
    }

    public static Map<String, Object> producer(StageSettings s) {
        return s.producerConfig();
    }
}
