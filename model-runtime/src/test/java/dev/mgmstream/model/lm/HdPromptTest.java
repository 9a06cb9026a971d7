package dev.mgmstream.model.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Mini-Gemini-HD's token extension on the language side: with {@code hd_grid} 2 an image brings 5N visual
 * tokens (a 2 x 2 grid of sub-images plus the whole image), all spliced in where the single image
 * placeholder was. mgm-tiny is not an HD model, so its manifest is given an HD grid for the test.
 */
class HdPromptTest {

    @Test
    void anHdImageFillsFiveTimesNPositions() throws Exception {
        ModelManifest m = ModelManifest.load(GoldenTasks.modelDir());
        ModelManifest.Vision v = m.vision();
        ModelManifest hd = new ModelManifest(m.dir(), m.format(), m.modelId(), m.family(),
                new ModelManifest.Vision(v.imageTokenCount(), 2, v.mining(), v.preprocess(), v.lrEncoder(),
                        v.hrEncoder(), v.projector(), v.visualTokensDtype()),
                m.languageModel(), m.tokenizer(), m.chat(), m.generationDefaults());
        int n = v.imageTokenCount();
        int d = m.languageModel().hiddenSize();
        float[] tokens = new float[5 * n * d];
        Random r = new Random(5);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (float) r.nextGaussian() * 0.5f;
        }
        List<GoldenTasks.Task> golden = GoldenTasks.load(GoldenTasks.modelDir());
        try (LanguageModel lm = LanguageModel.load(hd, EngineOptions.cpu(1))) {
            assertThat(lm.visualTokenCount()).isEqualTo(5 * n);
            GoldenTasks.Task t = golden.get(0);
            Prompt p = lm.prompt("hd", t.prompt(), tokens, 5 * n, SamplingParams.greedy(12));
            // The golden prompt with its N image ids widened to 5N, nothing else changed.
            long[] want = t.promptIds();
            assertThat(p.length()).isEqualTo(want.length + 4 * n);
            long image = lm.imageTokenId();
            int first = 0;
            while (want[first] != image) {
                first++;
            }
            for (int i = 0; i < p.length(); i++) {
                long expected = i < first ? want[i] : i < first + 5 * n ? image : want[i - 4 * n];
                assertThat(p.tokenIds()[i]).as("position " + i).isEqualTo(expected);
            }
            assertThatThrownBy(() -> lm.prompt("lr", t.prompt(), t.visualTokens(), n, SamplingParams.greedy(4)))
                    .hasMessageContaining("takes " + 5 * n);

            Prompt q = lm.prompt("hd2", golden.get(1).prompt(), tokens, 5 * n, SamplingParams.greedy(12));
            try (Generator g = lm.newGenerator(BatchingOptions.continuous(2))) {
                List<Completion> both = g.generate(List.of(p, q));
                assertThat(g.generate(List.of(p)).get(0).tokens()).containsExactly(both.get(0).tokens());
                assertThat(g.generate(List.of(q)).get(0).tokens()).containsExactly(both.get(1).tokens());
            }
        }
    }
}
