package dev.mgmstream.model.official;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.model.ModelsPython;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Scaled-down, random-weight checkpoints in the released Mini-Gemini layout, written at test time by
 * {@code models/make_test_checkpoints.py}, exported by {@code models/export_mgm.py}, and answered one by
 * one by the PyTorch reference ({@code models/reference.py --checkpoint}). Nothing of it is committed: each
 * test run builds it under {@code target/official} from the Python code as it is.
 */
public final class OfficialExports {

    public static final Path WORK = Path.of("target", "official").toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Path> DONE = new HashMap<>();

    private OfficialExports() {
    }

    /**
     * The checkpoint folder of a family ({@code gemma}: MGM-2B, {@code vicuna}: MGM-7B, {@code llama3}: MGM-8B,
     * {@code gemma-hd}: MGM-2B-HD, Mini-Gemini-HD's token extension on the Gemma test model).
     */
    public static synchronized Path checkpoint(String family) {
        Path root = DONE.computeIfAbsent("checkpoints", k -> {
            Path out = WORK.resolve("checkpoints");
            ModelsPython.run(List.of("make_test_checkpoints.py", "--out", out.toString(), "--families",
                    "gemma,vicuna,llama3,gemma-hd"));
            return out;
        });
        return root.resolve(switch (family) {
            case "gemma" -> "MGM-2B";
            case "vicuna" -> "MGM-7B";
            case "llama3" -> "MGM-8B";
            case "gemma-hd" -> "MGM-2B-HD";
            default -> throw new IllegalArgumentException(family);
        });
    }

    /** The pipeline's export of a family's test checkpoint in float32 or float16. */
    public static Path export(String family, String dtype) {
        return export(family, dtype, List.of());
    }

    /** The same with further {@code export_mgm.py} options, in a folder of its own. */
    public static synchronized Path export(String family, String dtype, List<String> options) {
        Path ckpt = checkpoint(family);
        String name = family + "-" + dtype + (options.isEmpty() ? "" : "-" + Integer.toHexString(options.hashCode()));
        return DONE.computeIfAbsent("export-" + name, k -> {
            Path out = WORK.resolve("exports").resolve(name);
            List<String> args = new ArrayList<>(List.of("export_mgm.py", "--model", ckpt.toString(), "--out",
                    out.toString(), "--dtype", dtype));
            args.addAll(options);
            ModelsPython.run(args);
            return out;
        });
    }

    /** One task for the reference and the pipeline. */
    public record Task(String id, Path image, String kind, String prompt) {}

    /** What the PyTorch reference did for one task. */
    public record Traced(String id, long[] inputIds, long[] tokens, String finish, List<float[]> logits,
                         JsonNode result) {}

    /** Runs the one-by-one PyTorch reference on the checkpoint itself and reads its trace. */
    public static Map<String, Traced> reference(String family, List<Task> tasks, int maxNewTokens) {
        Path dir = WORK.resolve("reference").resolve(family);
        try {
            Files.createDirectories(dir);
            StringBuilder in = new StringBuilder();
            for (Task t : tasks) {
                var o = JSON.createObjectNode().put("task_id", t.id()).put("image", t.image().toString())
                        .put("kind", t.kind());
                if (t.prompt() != null) {
                    o.put("prompt", t.prompt());
                }
                in.append(JSON.writeValueAsString(o)).append('\n');
            }
            Path input = dir.resolve("tasks.jsonl");
            Files.writeString(input, in.toString());
            Path output = dir.resolve("results.jsonl");
            Path trace = dir.resolve("trace.jsonl");
            ModelsPython.run(List.of("reference.py", "--checkpoint", checkpoint(family).toString(), "--input",
                    input.toString(), "--output", output.toString(), "--trace", trace.toString(), "--max-new-tokens",
                    Integer.toString(maxNewTokens)));
            Map<String, JsonNode> results = new HashMap<>();
            for (String line : Files.readAllLines(output)) {
                if (!line.isBlank()) {
                    JsonNode r = JSON.readTree(line);
                    results.put(r.get("task_id").asText(), r);
                }
            }
            Map<String, Traced> out = new HashMap<>();
            for (String line : Files.readAllLines(trace)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode r = JSON.readTree(line);
                List<float[]> logits = new ArrayList<>();
                for (JsonNode step : r.get("logits")) {
                    float[] v = new float[step.size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) step.get(i).asDouble();
                    }
                    logits.add(v);
                }
                String id = r.get("task_id").asText();
                out.put(id, new Traced(id, longs(r.get("input_ids")), longs(r.get("tokens")), r.get("finish").asText(),
                        logits, results.get(id)));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long[] longs(JsonNode array) {
        long[] v = new long[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asLong();
        }
        return v;
    }
}
