package dev.mgmstream.model.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Java's greedy answers against the Python reference on the golden scenes, and batched decoding
 * (continuous and static, several batch sizes) against one prompt at a time, token for token.
 */
class GenerationParityTest {

    static final int MAX_NEW = 96;   // what models/export.py generates the golden answers with
    static final int MIX = 44;
    static final int MIX_MAX_NEW = 48;   // budgets in the mixes: enough to differ, short enough to keep the suite fast
    static LanguageModel lm;
    static List<GoldenTasks.Task> tasks;
    static List<Completion> oneByOne;

    @BeforeAll
    static void load() throws Exception {
        lm = LanguageModel.load(ModelManifest.load(GoldenTasks.modelDir()), EngineOptions.cpu(1));
        tasks = GoldenTasks.load(GoldenTasks.modelDir());
        oneByOne = new ArrayList<>();
        try (Generator g = lm.newGenerator(BatchingOptions.continuous(1))) {
            for (Prompt p : prompts(tasks)) {
                oneByOne.add(g.generate(List.of(p)).get(0));
            }
        }
    }

    @AfterAll
    static void close() {
        if (lm != null) {
            lm.close();
        }
    }

    static List<Prompt> prompts(List<GoldenTasks.Task> ts) {
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < ts.size(); i++) {
            GoldenTasks.Task t = ts.get(i);
            out.add(lm.prompt("t" + i, t.prompt(), t.visualTokens(), t.visualCount(), SamplingParams.greedy(MAX_NEW)));
        }
        return out;
    }

    /**
     * The mix with budgets from 4 to {@value #MIX_MAX_NEW} tokens, so that sequences finish at different steps
     * and free their slots one by one, as short VQA answers and long captions do.
     */
    static List<Prompt> varied(List<GoldenTasks.Task> ts) {
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < ts.size(); i++) {
            GoldenTasks.Task t = ts.get(i);
            out.add(lm.prompt("t" + i, t.prompt(), t.visualTokens(), t.visualCount(), SamplingParams.greedy(budget(i))));
        }
        return out;
    }

    static int budget(int i) {
        return 4 + (i * 37) % (MIX_MAX_NEW - 3);
    }

    @Test
    void promptsTokeniseLikeThePythonReference() {
        List<Prompt> ps = prompts(tasks);
        for (int i = 0; i < ps.size(); i++) {
            assertThat(ps.get(i).tokenIds()).as(tasks.get(i).name()).containsExactly(tasks.get(i).promptIds());
        }
    }

    @Test
    void greedyAnswersEqualThePythonReference() {
        assertThat(tasks).hasSizeGreaterThan(16);
        for (int i = 0; i < tasks.size(); i++) {
            GoldenTasks.Task t = tasks.get(i);
            Completion c = oneByOne.get(i);
            assertThat(c.text()).as(t.name()).isEqualTo(t.greedyAnswer());
            // Only the text: golden.json's greedy_ids are not always the raw generated ids (an untrained export
            // emits special tokens that decoding drops), while the answer text is what users get.
            assertThat(lm.decode(c.tokens())).isEqualTo(c.text());
            assertThat(c.promptTokens()).isEqualTo(t.promptIds().length);
        }
    }

    /** Golden tasks in a scrambled order, more of them than the largest batch has slots. */
    static List<GoldenTasks.Task> mix() {
        List<GoldenTasks.Task> mix = new ArrayList<>();
        for (int i = 0; mix.size() < MIX; i++) {
            mix.add(tasks.get((i * 7 + 3) % tasks.size()));
        }
        return mix;
    }

    @ParameterizedTest(name = "continuous batching, {0} slots")
    @ValueSource(ints = {1, 7, 32})
    void continuousBatchingEqualsOneByOne(int slots) throws Exception {
        // One slot is the one-by-one path again, so a slice of the mix is enough there.
        List<GoldenTasks.Task> mix = slots == 1 ? mix().subList(0, 20) : mix();
        List<Completion> batched;
        try (Generator g = lm.newGenerator(new BatchingOptions(slots, BatchingOptions.Mode.CONTINUOUS, 1))) {
            batched = g.generate(varied(mix));
            assertThat(g.stats().prefills()).isGreaterThan(slots == 1 ? mix.size() - 1 : 1);
        }
        assertSameAsOneByOne(mix, batched);
    }

    @ParameterizedTest(name = "static batching, {0} slots")
    @ValueSource(ints = {7, 32})
    void staticBatchingEqualsOneByOne(int slots) throws Exception {
        List<GoldenTasks.Task> mix = mix();
        try (Generator g = lm.newGenerator(BatchingOptions.staticBatches(slots))) {
            assertSameAsOneByOne(mix, g.generate(varied(mix)));
        }
    }

    @Test
    void admittingSeveralAtOnceEqualsOneByOne() throws Exception {
        List<GoldenTasks.Task> mix = mix();
        try (Generator g = lm.newGenerator(new BatchingOptions(16, BatchingOptions.Mode.CONTINUOUS, 5))) {
            assertSameAsOneByOne(mix, g.generate(varied(mix)));
        }
    }

    /** Greedy answers with a budget of k tokens are the first k tokens of the unbounded answer. */
    private void assertSameAsOneByOne(List<GoldenTasks.Task> mix, List<Completion> batched) {
        assertThat(batched).hasSize(mix.size());
        for (int i = 0; i < mix.size(); i++) {
            long[] alone = oneByOne.get(tasks.indexOf(mix.get(i))).tokens();
            int k = budget(i);
            long[] want = alone.length >= k ? java.util.Arrays.copyOf(alone, k) : alone;
            Completion got = batched.get(i);
            assertThat(got.id()).isEqualTo("t" + i);
            assertThat(got.tokens()).as(mix.get(i).name()).containsExactly(want);
            assertThat(got.text()).as(mix.get(i).name()).isEqualTo(lm.decode(want));
            assertThat(got.finishReason()).isEqualTo(alone.length >= k ? FinishReason.LENGTH : FinishReason.STOP);
        }
    }

    @Test
    void nativeMemoryIsReleasedAfterEachCallAndWhenACallFails() throws Exception {
        assertReleasesNativeMemory(lm, varied(mix().subList(0, 5)), tasks.get(0));
    }

    /** After a call, and after one whose third prompt fails while the second still decodes, nothing native is held. */
    static void assertReleasesNativeMemory(LanguageModel lm, List<Prompt> first, GoldenTasks.Task t) throws Exception {
        try (Generator g = lm.newGenerator(new BatchingOptions(2, BatchingOptions.Mode.CONTINUOUS, 1))) {
            g.generate(first);
            assertThat(g.liveArrays()).isZero();
            // The third prompt is admitted while the second still decodes, and its prefill fails (its visual
            // tokens are too short): the live KV cache and the step's tensors must still be freed.
            Prompt good1 = lm.prompt("g1", t.prompt(), t.visualTokens(), t.visualCount(), SamplingParams.greedy(3));
            Prompt good2 = lm.prompt("g2", t.prompt(), t.visualTokens(), t.visualCount(), SamplingParams.greedy(40));
            Prompt broken = new Prompt("bad", good1.tokenIds(), new float[7], t.visualCount(), SamplingParams.greedy(5));
            assertThatThrownBy(() -> g.generate(List.of(good1, good2, broken)))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(g.liveArrays()).isZero();
            assertThat(g.generate(List.of(good1)).get(0).completionTokens()).isEqualTo(3);
            assertThat(g.liveArrays()).isZero();
        }
    }

    @Test
    void maxNewTokensEndsWithLength() throws Exception {
        GoldenTasks.Task t = tasks.get(0);
        try (Generator g = lm.newGenerator(BatchingOptions.continuous(4))) {
            Completion c = g.generate(List.of(lm.prompt("short", t.prompt(), t.visualTokens(), t.visualCount(),
                    SamplingParams.greedy(3)))).get(0);
            assertThat(c.finishReason()).isEqualTo(FinishReason.LENGTH);
            try (Generator full = lm.newGenerator(BatchingOptions.continuous(1))) {
                long[] whole = full.generate(List.of(lm.prompt("full", t.prompt(), t.visualTokens(), t.visualCount(),
                        SamplingParams.greedy(MAX_NEW)))).get(0).tokens();
                assertThat(c.tokens()).containsExactly(java.util.Arrays.copyOf(whole, 3));
            }
        }
    }

    @Test
    void stopStringsCutTheAnswer() throws Exception {
        // Pick a golden answer and a piece of it: the model must stop right before that piece.
        GoldenTasks.Task t = tasks.stream().filter(x -> x.greedyAnswer().length() > 12).findFirst().orElseThrow();
        String stop = t.greedyAnswer().substring(6, 10);
        ModelManifest m = lm.manifest();
        ModelManifest.Chat c = m.chat();
        ModelManifest withStop = ChatTemplateTest.withChat(m, new ModelManifest.Chat(c.template(), c.promptFormat(),
                c.stopTokens(), List.of(stop), c.generationTags(), c.defaultPrompts()));
        try (LanguageModel lm2 = LanguageModel.load(withStop, EngineOptions.cpu(1));
             Generator g = lm2.newGenerator(BatchingOptions.continuous(2))) {
            Completion out = g.generate(List.of(lm2.prompt("s", t.prompt(), t.visualTokens(), t.visualCount(),
                    SamplingParams.greedy(MAX_NEW)))).get(0);
            assertThat(out.finishReason()).isEqualTo(FinishReason.STOP);
            assertThat(out.text()).isEqualTo(t.greedyAnswer().substring(0, t.greedyAnswer().indexOf(stop)));
        }
    }

    @Test
    void promptsThatCannotFitAreRejectedWithTheReason() {
        GoldenTasks.Task t = tasks.get(0);
        String longPrompt = "What color is the circle? ".repeat(40);
        assertThatThrownBy(() -> lm.prompt("long", longPrompt, t.visualTokens(), t.visualCount(),
                SamplingParams.greedy(8)))
                .isInstanceOf(PromptRejectedException.class).hasMessageContaining("context of");
        // Longer than the tokenizer's own 512-token default: measured in full, not truncated into the context.
        assertThatThrownBy(() -> lm.prompt("longer", "Is there a sign? ".repeat(150), t.visualTokens(),
                t.visualCount(), SamplingParams.greedy(8)))
                .isInstanceOf(PromptRejectedException.class).hasMessageMatching("the prompt takes (5[2-9]\\d|[6-9]\\d\\d|\\d{4,}) tokens.*");
        assertThatThrownBy(() -> lm.prompt("few", t.prompt(), new float[128 * 4], 4, SamplingParams.greedy(8)))
                .isInstanceOf(PromptRejectedException.class).hasMessageContaining("4 visual tokens");
        assertThatThrownBy(() -> lm.prompt("narrow", t.prompt(), new float[64 * t.visualCount()], t.visualCount(),
                SamplingParams.greedy(8)))
                .isInstanceOf(PromptRejectedException.class).hasMessageContaining("expected");
    }

    @Test
    void theContextBoundsTheAnswer() throws Exception {
        // A prompt that leaves 5 positions of context may generate at most 5 tokens, whatever max_new_tokens says.
        GoldenTasks.Task t = tasks.get(0);
        int ctx = lm.manifest().languageModel().contextLength();
        String prompt = t.prompt();
        Prompt p = lm.prompt("x", prompt, t.visualTokens(), t.visualCount(), SamplingParams.greedy(500));
        while (p.length() < ctx - 5) {
            prompt = prompt + " yes";
            p = lm.prompt("x", prompt, t.visualTokens(), t.visualCount(), SamplingParams.greedy(500));
        }
        try (Generator g = lm.newGenerator(BatchingOptions.continuous(2))) {
            Completion c = g.generate(List.of(p)).get(0);
            assertThat(c.completionTokens()).isLessThanOrEqualTo(ctx - p.length());
            if (c.completionTokens() == ctx - p.length()) {
                assertThat(c.finishReason()).isEqualTo(FinishReason.LENGTH);
            }
        }
    }
}
