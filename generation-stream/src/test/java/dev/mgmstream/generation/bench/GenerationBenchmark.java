package dev.mgmstream.generation.bench;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.diffusion.GeneratorManifest;
import dev.mgmstream.model.diffusion.TextToImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Images per second of the generator on CPU, at batch size 1 (one request per call) and 8 (eight
 * requests share every text-encoder, UNet and VAE call), with the same prompts, seeds and step count,
 * measured in one run; best of three per batch size after a warm-up.
 * Arguments (all optional): {@code images steps intra-op-threads model-dir}.
 */
public final class GenerationBenchmark {

    static final int REPEATS = 3;

    /** Canonical captions of the world's shape scenes, the prompts the reasoning stage writes. */
    static final List<String> PROMPTS = List.of(
            "a large red circle at the top left and a small blue square at the center.",
            "a small green triangle at the top, a large yellow circle at the left and a small red square at the bottom right.",
            "a large blue square at the right.",
            "a small yellow circle at the top left, a large green square at the top right, a small blue triangle at the center and a large red circle at the bottom.",
            "a large green triangle at the bottom left and a small red circle at the bottom right.",
            "a small blue circle at the top and a large yellow triangle at the center.",
            "a large red square at the left, a small green circle at the right and a large blue triangle at the bottom.",
            "a small yellow square at the center.");

    private GenerationBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int images = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        Path dir = Path.of(args.length > 3 ? args[3] : System.getProperty("mgm.gen.model.dir", "models/mgm-gen-tiny"));
        GeneratorManifest manifest = GeneratorManifest.load(dir);
        List<TextToImage.Request> requests = new ArrayList<>();
        for (int i = 0; i < images; i++) {
            requests.add(new TextToImage.Request(PROMPTS.get(i % PROMPTS.size()), manifest.defaults().negativePrompt(),
                    1000 + i, steps, manifest.defaults().guidance()));
        }
        try (TextToImage t2i = TextToImage.load(manifest, EngineOptions.cpu(threads))) {
            System.out.printf(Locale.ROOT, "Generation benchmark: model %s, %dx%d images, %d steps, guidance %.1f, "
                    + "%d images per run, intra-op threads %s, %d cores%n", t2i.modelId(), manifest.image().width(),
                    manifest.image().height(), steps, manifest.defaults().guidance(), images,
                    threads == 0 ? "default" : Integer.toString(threads), Runtime.getRuntime().availableProcessors());
            run(t2i, requests.subList(0, Math.min(8, images)), 8);     // warm-up: graph optimisation, allocators
            double one = best(t2i, requests, 1);
            double eight = best(t2i, requests, 8);
            System.out.printf(Locale.ROOT, "batch size 1: %7.3f images/s  %8.1f ms/image%n", images / one,
                    1000 * one / images);
            System.out.printf(Locale.ROOT, "batch size 8: %7.3f images/s  %8.1f ms/image%n", images / eight,
                    1000 * eight / images);
            System.out.printf(Locale.ROOT, "ratio (8 / 1): %.2fx%n", one / eight);
        }
    }

    private static double best(TextToImage t2i, List<TextToImage.Request> requests, int batch) throws Exception {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < REPEATS; r++) {
            best = Math.min(best, run(t2i, requests, batch));
        }
        return best;
    }

    /** Seconds to make every request, {@code batch} per call. */
    private static double run(TextToImage t2i, List<TextToImage.Request> requests, int batch) throws Exception {
        long t0 = System.nanoTime();
        for (int i = 0; i < requests.size(); i += batch) {
            List<TextToImage.Image> out = t2i.generate(requests.subList(i, Math.min(requests.size(), i + batch)));
            if (out.isEmpty()) {
                throw new IllegalStateException("no image came back");
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }
}
