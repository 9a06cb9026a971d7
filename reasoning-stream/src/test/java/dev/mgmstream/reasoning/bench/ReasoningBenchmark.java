package dev.mgmstream.reasoning.bench;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.model.lm.Completion;
import dev.mgmstream.model.lm.GenerationStats;
import dev.mgmstream.model.lm.Generator;
import dev.mgmstream.model.lm.GoldenTasks;
import dev.mgmstream.model.lm.LanguageModel;
import dev.mgmstream.model.lm.Prompt;
import dev.mgmstream.model.lm.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Throughput of the reasoning stage's language model on CPU with mgm-tiny (the golden scenes' tasks,
 * greedy, the manifest's max new tokens):
 * <ol>
 *   <li>answers/s and generated tokens/s at batch sizes (KV-cache slots) 1, 16 and 64, continuous
 *   batching, with the share of model time in prefill, decode steps and KV re-packing;</li>
 *   <li>continuous against static batching on a mix of short (VQA) and long (caption) answers, both
 *   measured in this run, as a ratio of wall times.</li>
 * </ol>
 * Arguments (all optional): {@code tasks-per-run intra-op-threads model-dir vqa-max-new-tokens}. The last
 * caps VQA answers in part 2 (0, the default, leaves the manifest's limit): a trained model ends its VQA
 * answers after a few tokens by itself, an untrained one never stops, so with an untrained model the cap
 * stands in for what the trained one does, and the printed mean answer lengths show which case ran.
 */
public final class ReasoningBenchmark {

    static final int REPEATS = 3;

    private ReasoningBenchmark() {
    }

    private static Result faster(Result best, Result r) {
        return best == null || r.nanos < best.nanos ? r : best;
    }

    public static void main(String[] args) throws Exception {
        int tasks = args.length > 0 ? Integer.parseInt(args[0]) : 192;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        Path dir = args.length > 2 && !args[2].isEmpty() ? Path.of(args[2]) : GoldenTasks.modelDir();
        int vqaMaxNew = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        ModelManifest manifest = ModelManifest.load(dir);
        int maxNew = manifest.generationDefaults().maxNewTokens();
        List<GoldenTasks.Task> golden = GoldenTasks.load(dir);
        try (LanguageModel lm = LanguageModel.load(manifest, EngineOptions.cpu(threads))) {
            System.out.printf(Locale.ROOT, "Reasoning benchmark: model %s, %d golden tasks, max %d new tokens, "
                    + "intra-op threads %s, %d cores%n", lm.modelId(), golden.size(), maxNew,
                    threads == 0 ? "default" : Integer.toString(threads), Runtime.getRuntime().availableProcessors());
            List<Prompt> all = prompts(lm, golden, tasks, maxNew, "all");
            run(lm, BatchingOptions.continuous(16), prompts(lm, golden, 64, maxNew, "all"));   // warm-up
            run(lm, BatchingOptions.continuous(1), prompts(lm, golden, 4, maxNew, "all"));

            System.out.println();
            System.out.println("1) Continuous batching by batch size (all golden task kinds, round robin; best of "
                    + REPEATS + ")");
            System.out.println(" slots  tasks   wall s  answers/s  tokens/s  tokens/answer  prefill%  decode%  repack%");
            for (int slots : new int[] {1, 16, 64}) {
                List<Prompt> ps = slots == 1 ? all.subList(0, Math.max(1, Math.min(all.size(), tasks / 4))) : all;
                Result r = null;
                for (int rep = 0; rep < REPEATS; rep++) {
                    r = faster(r, run(lm, BatchingOptions.continuous(slots), ps));
                }
                GenerationStats s = r.stats;
                double model = s.modelNanos();
                System.out.printf(Locale.ROOT, "%6d %6d %8.2f %10.2f %9.1f %14.1f %9.1f %8.1f %8.1f%n", slots, ps.size(),
                        r.seconds(), ps.size() / r.seconds(), s.generatedTokens() / r.seconds(),
                        s.generatedTokens() / (double) ps.size(), 100 * s.prefillNanos() / model,
                        100 * s.decodeNanos() / model, 100 * s.repackNanos() / model);
            }

            System.out.println();
            System.out.println("2) Continuous vs static batching, short (VQA) and long (caption) answers interleaved"
                    + " (best of " + REPEATS + ")");
            List<Prompt> mixed = mixShortLong(lm, golden, tasks, maxNew, vqaMaxNew > 0 ? vqaMaxNew : maxNew);
            long shortTokens = 0;
            long longTokens = 0;
            System.out.println(" slots  mode                 wall s  answers/s  tokens/s  decode steps  mean latency s"
                    + "  prefill%  decode%  repack%");
            for (int slots : new int[] {16, 64}) {
                // The machine is shared, so each mode runs REPEATS times, interleaved, and keeps its fastest run.
                Result stat = null;
                Result cont1 = null;
                Result cont = null;
                for (int rep = 0; rep < REPEATS; rep++) {
                    stat = faster(stat, run(lm, BatchingOptions.staticBatches(slots), mixed));
                    cont1 = faster(cont1, run(lm, new BatchingOptions(slots, BatchingOptions.Mode.CONTINUOUS, 1), mixed));
                    cont = faster(cont, run(lm, BatchingOptions.continuous(slots), mixed));
                }
                for (Result r : List.of(stat, cont1, cont)) {
                    double model = r.stats.modelNanos();
                    System.out.printf(Locale.ROOT, "%6d  %-19s %7.2f %10.2f %9.1f %13d %15.2f %9.1f %8.1f %8.1f%n", slots,
                            r.label, r.seconds(), mixed.size() / r.seconds(), r.stats.generatedTokens() / r.seconds(),
                            r.stats.decodeSteps(), r.meanLatencySeconds(), 100 * r.stats.prefillNanos() / model,
                            100 * r.stats.decodeNanos() / model, 100 * r.stats.repackNanos() / model);
                }
                System.out.printf(Locale.ROOT, "        ratio static/continuous wall time: %.2fx (admit at 1 free: %.2fx); "
                                + "mean latency: %.2fx%n", stat.seconds() / cont.seconds(), stat.seconds() / cont1.seconds(),
                        stat.meanLatencySeconds() / cont.meanLatencySeconds());
                if (slots == 16) {
                    for (int i = 0; i < mixed.size(); i++) {
                        if (i % 2 == 0) {
                            shortTokens += cont.completions.get(i).completionTokens();
                        } else {
                            longTokens += cont.completions.get(i).completionTokens();
                        }
                    }
                }
            }
            System.out.printf(Locale.ROOT, "   mix: %d tasks, mean answer %.1f tokens (VQA) and %.1f tokens (caption)%n",
                    mixed.size(), 2.0 * shortTokens / mixed.size(), 2.0 * longTokens / mixed.size());
        }
    }

    private record Result(String label, long nanos, GenerationStats stats, List<Completion> completions) {
        double seconds() {
            return nanos / 1e9;
        }

        double meanLatencySeconds() {
            return completions.stream().mapToLong(Completion::totalNanos).average().orElse(0) / 1e9;
        }
    }

    private static Result run(LanguageModel lm, BatchingOptions options, List<Prompt> prompts) throws Exception {
        try (Generator g = lm.newGenerator(options)) {
            long t0 = System.nanoTime();
            List<Completion> out = g.generate(prompts);
            long dt = System.nanoTime() - t0;
            String label = options.mode() == BatchingOptions.Mode.STATIC ? "static"
                    : "continuous (admit " + options.admitMinFree() + ")";
            return new Result(label, dt, g.stats(), out);
        }
    }

    /** {@code n} prompts cycling through the golden tasks of the given kind ("all" for every kind). */
    private static List<Prompt> prompts(LanguageModel lm, List<GoldenTasks.Task> golden, int n, int maxNew, String kind) {
        List<GoldenTasks.Task> pool = golden.stream().filter(t -> kind.equals("all") || t.kind().equals(kind)).toList();
        List<Prompt> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            GoldenTasks.Task t = pool.get(i % pool.size());
            out.add(lm.prompt("b" + i, t.prompt(), t.visualTokens(), t.visualCount(), SamplingParams.greedy(maxNew)));
        }
        return out;
    }

    /** VQA and caption tasks alternating, so every static group holds both kinds. */
    private static List<Prompt> mixShortLong(LanguageModel lm, List<GoldenTasks.Task> golden, int n, int maxNew,
                                             int vqaMaxNew) {
        List<Prompt> vqa = prompts(lm, golden, n / 2, vqaMaxNew, "vqa");
        List<Prompt> caption = prompts(lm, golden, n / 2, maxNew, "caption");
        List<Prompt> out = new ArrayList<>(n);
        for (int i = 0; i < n / 2; i++) {
            out.add(vqa.get(i));
            out.add(caption.get(i));
        }
        return out;
    }
}
