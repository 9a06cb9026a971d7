package dev.mgmstream.model.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sampled answers depend on the task's seed alone: not on the batch, the slot, or the run. */
class SamplingTest {

    static LanguageModel lm;
    static List<GoldenTasks.Task> tasks;

    @BeforeAll
    static void load() throws Exception {
        lm = LanguageModel.load(ModelManifest.load(GoldenTasks.modelDir()), EngineOptions.cpu(1));
        tasks = GoldenTasks.load(GoldenTasks.modelDir());
    }

    @AfterAll
    static void close() {
        lm.close();
    }

    static Prompt prompt(int task, SamplingParams params) {
        GoldenTasks.Task t = tasks.get(task % tasks.size());
        return lm.prompt("p" + task, t.prompt(), t.visualTokens(), t.visualCount(), params);
    }

    @Test
    void sameSeedSameAnswerWhateverTheBatch() throws Exception {
        SamplingParams hot = new SamplingParams(24, 1.5, 0, 1.0, 42);
        List<Completion> alone;
        try (Generator g = lm.newGenerator(BatchingOptions.continuous(1))) {
            alone = g.generate(List.of(prompt(0, hot), prompt(1, hot)));
        }
        List<Prompt> crowd = new ArrayList<>();
        for (int i = 2; i < 12; i++) {
            crowd.add(prompt(i, new SamplingParams(24, 1.5, 0, 1.0, 1000 + i)));
        }
        crowd.add(3, prompt(0, hot));
        crowd.add(prompt(1, hot));
        List<Completion> batched;
        try (Generator g = lm.newGenerator(new BatchingOptions(5, BatchingOptions.Mode.CONTINUOUS, 1))) {
            batched = g.generate(crowd);
        }
        assertThat(batched.get(3).tokens()).containsExactly(alone.get(0).tokens());
        assertThat(batched.get(crowd.size() - 1).tokens()).containsExactly(alone.get(1).tokens());
    }

    @Test
    void differentSeedsGiveDifferentAnswersAtHighTemperature() throws Exception {
        Set<String> answers = new HashSet<>();
        try (Generator g = lm.newGenerator(BatchingOptions.continuous(8))) {
            List<Prompt> ps = new ArrayList<>();
            for (long seed = 0; seed < 8; seed++) {
                ps.add(prompt(0, new SamplingParams(16, 2.0, 0, 1.0, seed)));
            }
            for (Completion c : g.generate(ps)) {
                answers.add(java.util.Arrays.toString(c.tokens()));
            }
        }
        assertThat(answers).hasSizeGreaterThan(1);
    }

    @Test
    void topKOneAndTinyTopPAreGreedy() throws Exception {
        try (Generator g = lm.newGenerator(BatchingOptions.continuous(4))) {
            List<Completion> out = g.generate(List.of(
                    prompt(5, SamplingParams.greedy(20)),
                    prompt(5, new SamplingParams(20, 1.0, 1, 1.0, 7)),
                    prompt(5, new SamplingParams(20, 1.0, 0, 1e-9, 9))));
            assertThat(out.get(1).tokens()).containsExactly(out.get(0).tokens());
            assertThat(out.get(2).tokens()).containsExactly(out.get(0).tokens());
        }
    }

    @Test
    void samplerDrawsFromTheNucleusOnly() {
        // Logits for 4 tokens: probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1.
        float[] logits = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        Set<Integer> seen = new HashSet<>();
        for (long seed = 0; seed < 400; seed++) {
            seen.add(new Sampler(new SamplingParams(1, 1.0, 0, 0.75, seed)).next(logits, 0, 4));
        }
        assertThat(seen).containsExactlyInAnyOrder(1, 3);
        seen.clear();
        for (long seed = 0; seed < 400; seed++) {
            seen.add(new Sampler(new SamplingParams(1, 1.0, 3, 1.0, seed)).next(logits, 0, 4));
        }
        assertThat(seen).containsExactlyInAnyOrder(0, 1, 3);
    }

    @Test
    void badSamplingParametersAreRefused() {
        assertThatThrownBy(() -> new SamplingParams(0, 0, 0, 1, 0)).hasMessageContaining("max_new_tokens");
        assertThatThrownBy(() -> new SamplingParams(8, -1, 0, 1, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new SamplingParams(8, Double.NaN, 0, 1, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new SamplingParams(8, 1, -2, 1, 0)).hasMessageContaining("top_k");
        assertThatThrownBy(() -> new SamplingParams(8, 1, 0, 0, 0)).hasMessageContaining("top_p");
    }
}
