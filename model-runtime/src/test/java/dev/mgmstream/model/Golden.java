package dev.mgmstream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The golden files written by models/export.py: tensors as little-endian float32 with their shapes. */
final class Golden {

    static Path modelDir(String name) {
        return Path.of(System.getProperty("mgm.models.dir", "../models")).resolve(name).toAbsolutePath().normalize();
    }

    record Tensor(long[] shape, float[] data) {}

    final Path dir;
    final JsonNode root;

    Golden(Path modelDir) throws IOException {
        this.dir = modelDir.resolve("golden");
        this.root = new ObjectMapper().readTree(dir.resolve("golden.json").toFile());
    }

    List<JsonNode> scenes() {
        List<JsonNode> out = new ArrayList<>();
        root.get("scenes").forEach(out::add);
        return out;
    }

    Tensor tensor(JsonNode spec) throws IOException {
        byte[] bytes = Files.readAllBytes(dir.resolve(spec.get("file").asText()));
        float[] data = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
        long[] shape = new long[spec.get("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = spec.get("shape").get(i).asLong();
        }
        return new Tensor(shape, data);
    }

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != " + b.length);
        }
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
