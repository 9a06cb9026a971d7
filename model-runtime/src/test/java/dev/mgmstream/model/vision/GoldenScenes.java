package dev.mgmstream.model.vision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The golden scenes of an export (models/export.py): PNGs with the Python side's tensors as little-endian
 * float32 files. Read at test time from {@code mgm.models.dir}, so a re-exported model is checked as it is.
 */
public final class GoldenScenes {

    public record Scene(String id, Path image, JsonNode spec) {}

    private final Path dir;
    private final List<Scene> scenes = new ArrayList<>();

    public GoldenScenes(Path modelDir) {
        this.dir = modelDir.resolve("golden");
        try {
            JsonNode root = new ObjectMapper().readTree(dir.resolve("golden.json").toFile());
            for (JsonNode s : root.get("scenes")) {
                scenes.add(new Scene(s.get("id").asText(), dir.resolve(s.get("image").asText()), s));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path modelDir(String name) {
        return Path.of(System.getProperty("mgm.models.dir", "../models")).resolve(name).toAbsolutePath().normalize();
    }

    public List<Scene> scenes() {
        return scenes;
    }

    /** The float32 tensor a scene names under {@code key}, or null when this scene has none. */
    public float[] tensor(Scene scene, String key) {
        JsonNode t = scene.spec().get(key);
        if (t == null) {
            return null;
        }
        try {
            byte[] bytes = Files.readAllBytes(dir.resolve(t.get("file").asText()));
            float[] out = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != " + b.length);
        }
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    public static float maxAbs(float[] a) {
        float m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * Visual tokens that travelled as float16 against the export's float32 ones: within 1e-3 for the
     * model, plus float16's own rounding of each value (11 significant bits), so the bound grows with
     * the value rather than being one absolute number that large tokens overrun.
     */
    public static void assertFloat16Tokens(String what, float[] got, float[] want) {
        assertThat(got).as(what).hasSameSizeAs(want);
        for (int i = 0; i < want.length; i++) {
            assertThat(Math.abs(got[i] - want[i])).as(what + "[" + i + "]")
                    .isLessThanOrEqualTo(1e-3f + Math.abs(want[i]) * 0x1p-11f);
        }
    }
}
