package dev.mgmstream.model.lm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The tasks of whatever golden set models/export.py last wrote into the model folder (read at test
 * time, so the tests follow the model when it is replaced).
 */
public final class GoldenTasks {

    /** One golden task with its image's visual tokens and the Python reference's greedy answer. */
    public record Task(String scene, String kind, String prompt, long[] promptIds, float[] visualTokens,
                       int visualCount, String greedyAnswer, long[] greedyIds) {
        public String name() {
            return scene + "/" + kind + ": " + prompt;
        }
    }

    private GoldenTasks() {
    }

    public static Path modelDir() {
        return Path.of(System.getProperty("mgm.models.dir", "../models")).resolve("mgm-tiny").toAbsolutePath().normalize();
    }

    public static List<Task> load(Path modelDir) throws IOException {
        Path dir = modelDir.resolve("golden");
        JsonNode root = new ObjectMapper().readTree(dir.resolve("golden.json").toFile());
        List<Task> out = new ArrayList<>();
        for (JsonNode scene : root.get("scenes")) {
            JsonNode vt = scene.get("visual_tokens");
            float[] vis = floats(Files.readAllBytes(dir.resolve(vt.get("file").asText())));
            JsonNode shape = vt.get("shape");
            int count = shape.get(shape.size() - 2).asInt();
            for (JsonNode t : scene.get("tasks")) {
                out.add(new Task(scene.get("id").asText(), t.get("kind").asText(), t.get("prompt").asText(),
                        longs(t.get("prompt_ids")), vis, count, t.get("greedy_answer").asText(),
                        longs(t.get("greedy_ids"))));
            }
        }
        return out;
    }

    static float[] floats(byte[] bytes) {
        float[] f = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }
}
