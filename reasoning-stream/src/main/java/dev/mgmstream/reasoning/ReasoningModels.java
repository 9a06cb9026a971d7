package dev.mgmstream.reasoning;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.LanguageModel;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The language models this stage serves, by the model id that VisualTokens records name. */
public final class ReasoningModels implements AutoCloseable {

    private final Map<String, LanguageModel> byId;

    private ReasoningModels(Map<String, LanguageModel> byId) {
        this.byId = byId;
    }

    public static ReasoningModels load(List<Path> dirs, EngineOptions engine) {
        Map<String, LanguageModel> m = new LinkedHashMap<>();
        try {
            for (Path dir : dirs) {
                LanguageModel lm = LanguageModel.load(ModelManifest.load(dir), engine);
                LanguageModel before = m.put(lm.modelId(), lm);
                if (before != null) {
                    lm.close();
                    throw new IllegalArgumentException("two model folders have model_id '" + lm.modelId() + "': "
                            + before.manifest().dir() + " and " + dir);
                }
                try {
                    lm.warmUp();
                } catch (ai.djl.translate.TranslateException e) {
                    throw new IllegalStateException("the language model in " + dir + " cannot run: "
                            + e.getMessage(), e);
                }
            }
            return new ReasoningModels(m);
        } catch (RuntimeException e) {
            m.values().forEach(LanguageModel::close);
            throw e;
        }
    }

    /** Models loaded elsewhere (tests, benchmarks); closing this closes them. */
    public static ReasoningModels of(LanguageModel... models) {
        Map<String, LanguageModel> m = new LinkedHashMap<>();
        for (LanguageModel lm : models) {
            m.put(lm.modelId(), lm);
        }
        return new ReasoningModels(m);
    }

    public Optional<LanguageModel> get(String modelId) {
        return Optional.ofNullable(modelId == null ? null : byId.get(modelId));
    }

    public java.util.Set<String> ids() {
        return byId.keySet();
    }

    @Override
    public void close() {
        byId.values().forEach(LanguageModel::close);
    }
}
