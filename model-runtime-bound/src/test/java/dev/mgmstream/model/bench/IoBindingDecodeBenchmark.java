package dev.mgmstream.model.bench;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.model.lm.GenerationStats;
import dev.mgmstream.model.lm.Generator;
import dev.mgmstream.model.lm.LanguageModel;
import dev.mgmstream.model.lm.Prompt;
import dev.mgmstream.model.lm.SamplingParams;
import dev.mgmstream.model.official.OfficialExports;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The decoder with its cache bound to the provider's memory (I/O binding) against the same provider through
 * DJL, where the cache crosses to the host and back every step, in one run: decode tokens/s at 1, 8 and 32
 * slots and their ratio, with the time spent re-packing the cache as sequences finish. On a GPU this is the
 * figure I/O binding is for; on the CPU provider both keep the cache in host memory and the ratio shows the
 * bound path's own overhead. Where the provider cannot be created it says so and stops with status 0.
 *
 * <p>Arguments (all optional): {@code export-dir provider new-tokens}; without an export folder ("-"), the
 * float16 export of the scaled-down Gemma test checkpoint (written by models/ at first use). Run with Java 22+:
 * {@code mvn -pl model-runtime-bound test-compile exec:exec ...} or the command in docs/benchmarks.md.
 */
public final class IoBindingDecodeBenchmark {

    private IoBindingDecodeBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 && !args[0].isEmpty() && !args[0].equals("-") ? Path.of(args[0])
                : OfficialExports.export("gemma", "float16");
        String provider = args.length > 1 ? args[1] : "cuda";
        int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        ModelManifest manifest = ModelManifest.load(dir);
        EngineOptions engine = new EngineOptions(provider, 0, 1, provider.equals("cpu") ? 1 : 0, null, Map.of(), true);
        LanguageModel host;
        LanguageModel bound;
        try {
            host = LanguageModel.load(manifest, engine);
            bound = LanguageModel.load(manifest, engine.withIoBinding(true));
        } catch (RuntimeException e) {
            System.out.println("skipped: the " + provider + " provider is not available here (" + e.getMessage()
                    + "); run where a GPU and ONNX Runtime's GPU jar are");
            return;
        }
        try (host; bound) {
            host.warmUp();
            bound.warmUp();
            System.out.printf(Locale.ROOT, "I/O binding benchmark: model %s (%s) on %s, %d visual tokens, %d new "
                    + "tokens per answer%n  host cache: %s%n  bound cache: %s%n", manifest.modelId(), dir, provider,
                    host.visualTokenCount(), newTokens, host.decoderBackend(), bound.decoderBackend());
            for (int slots : new int[] {1, 8, 32}) {
                Result h = run(host, slots, newTokens);
                Result b = run(bound, slots, newTokens);
                System.out.printf(Locale.ROOT, "slots %2d  host cache: decode %8.1f tokens/s, repack %6.1f ms  |  bound"
                        + " cache: decode %8.1f tokens/s, repack %6.1f ms  |  bound/host decode x%.2f%n", slots,
                        h.tokensPerSecond, h.repackMs, b.tokensPerSecond, b.repackMs,
                        b.tokensPerSecond / h.tokensPerSecond);
            }
        }
    }

    record Result(double tokensPerSecond, double repackMs) {}

    /**
     * Twice as many prompts as slots with budgets from a quarter of {@code newTokens} to all of it, so that
     * sequences finish at different steps and the cache is re-packed as in service; decode and re-pack time
     * both count.
     */
    static Result run(LanguageModel lm, int slots, int newTokens) throws Exception {
        int hidden = lm.manifest().languageModel().hiddenSize();
        int n = lm.visualTokenCount();
        Random random = new Random(7);
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < 2 * slots; i++) {
            float[] visual = new float[n * hidden];
            for (int k = 0; k < visual.length; k++) {
                visual[k] = (float) random.nextGaussian() * 0.02f;
            }
            int budget = Math.max(1, newTokens / 4 + (i * 37) % Math.max(1, newTokens - newTokens / 4));
            prompts.add(lm.prompt("b" + i, "Describe the image in detail.", visual, n, SamplingParams.greedy(budget)));
        }
        try (Generator gen = lm.newGenerator(BatchingOptions.continuous(slots))) {
            gen.generate(prompts);   // warm-up at this batch size
            GenerationStats before = gen.stats();
            gen.generate(prompts);
            GenerationStats s = gen.stats().minus(before);
            double seconds = (s.decodeNanos() + s.repackNanos()) / 1e9;
            return new Result(s.generatedTokens() / Math.max(1e-9, seconds), s.repackNanos() / 1e6);
        }
    }
}
