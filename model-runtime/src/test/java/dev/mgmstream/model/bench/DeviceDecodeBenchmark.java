package dev.mgmstream.model.bench;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.model.lm.Generator;
import dev.mgmstream.model.lm.GenerationStats;
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
 * The language model of an export on a GPU provider against the CPU, in one run: prefill time and decode
 * tokens/s at 1, 8 and 32 slots, with the share of decode time. Where no GPU provider can be created (no
 * CUDA, or the CPU build of ONNX Runtime on the class path) it says so and stops with status 0, so it can
 * be run anywhere. The KV cache goes through host memory each step (the DJL path; ONNX Runtime's Java API has
 * no I/O binding), which is what the decode figures at many slots show; {@code IoBindingDecodeBenchmark} in
 * model-runtime-bound compares it with the cache kept on the device.
 *
 * <p>Arguments (all optional): {@code export-dir provider new-tokens}; without an export folder, the
 * float16 export of the scaled-down Gemma test checkpoint (written by models/ at first use; "-" for it too).
 */
public final class DeviceDecodeBenchmark {

    private DeviceDecodeBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 && !args[0].isEmpty() && !args[0].equals("-") ? Path.of(args[0]) : OfficialExports.export("gemma", "float16");
        String provider = args.length > 1 ? args[1] : "cuda";
        int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        ModelManifest manifest = ModelManifest.load(dir);
        EngineOptions device = new EngineOptions(provider, 0, 1, 0, null, Map.of(), true);
        LanguageModel onDevice;
        try {
            onDevice = LanguageModel.load(manifest, device);
            onDevice.warmUp();
        } catch (RuntimeException e) {
            System.out.println("skipped: the " + provider + " provider is not available here (" + e.getMessage()
                    + "); run where a GPU and ONNX Runtime's GPU jar are");
            return;
        }
        System.out.printf(Locale.ROOT, "Decode benchmark: model %s (%s), %d visual tokens, %d new tokens per answer%n",
                manifest.modelId(), dir, onDevice.visualTokenCount(), newTokens);
        try (LanguageModel gpu = onDevice;
             LanguageModel cpu = LanguageModel.load(manifest, EngineOptions.cpu(0))) {
            cpu.warmUp();
            for (int slots : new int[] {1, 8, 32}) {
                Result g = run(gpu, slots, newTokens);
                Result c = run(cpu, slots, newTokens);
                System.out.printf(Locale.ROOT, "slots %2d  %-8s prefill %8.1f ms  decode %9.1f tokens/s (%.0f%% of model time)"
                        + "  |  cpu prefill %8.1f ms  decode %9.1f tokens/s  |  %s/cpu decode x%.2f%n",
                        slots, provider, g.prefillMs, g.tokensPerSecond, 100 * g.decodeShare, c.prefillMs,
                        c.tokensPerSecond, provider, g.tokensPerSecond / c.tokensPerSecond);
            }
        }
    }

    record Result(double prefillMs, double tokensPerSecond, double decodeShare) {}

    /** One batch of {@code slots} prompts with random visual tokens, greedy, no early stop beyond the model's. */
    static Result run(LanguageModel lm, int slots, int newTokens) throws Exception {
        int hidden = lm.manifest().languageModel().hiddenSize();
        int n = lm.visualTokenCount();
        Random random = new Random(7);
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < slots; i++) {
            float[] visual = new float[n * hidden];
            for (int k = 0; k < visual.length; k++) {
                visual[k] = (float) random.nextGaussian() * 0.02f;
            }
            prompts.add(lm.prompt("b" + i, "Describe the image in detail.", visual, n, SamplingParams.greedy(newTokens)));
        }
        try (Generator gen = lm.newGenerator(BatchingOptions.continuous(slots))) {
            gen.generate(prompts);   // warm-up at this batch size
            GenerationStats before = gen.stats();
            gen.generate(prompts);
            GenerationStats s = gen.stats().minus(before);
            return new Result(s.prefillNanos() / 1e6 / Math.max(1, s.prefills()),
                    s.generatedTokens() / Math.max(1e-9, s.decodeNanos() / 1e9),
                    s.decodeNanos() / (double) Math.max(1, s.modelNanos()));
        }
    }
}
