package dev.mgmstream.reasoning;

import dev.mgmstream.model.lm.GoldenTasks;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.schemas.avro.GenerationOptions;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * VisualTokens records built from the golden scenes of whatever model is in models/mgm-tiny (the
 * Python reference's visual tokens and greedy answers), as the encoders stage would write them.
 */
final class Golden {

    /** One golden scene: its visual tokens and its tasks with the reference answers. */
    record Scene(String id, float[] tokens, int count, List<GoldenTasks.Task> tasks) {}

    static final List<Scene> SCENES = load();

    private Golden() {
    }

    private static List<Scene> load() {
        try {
            Map<String, List<GoldenTasks.Task>> byScene = new LinkedHashMap<>();
            for (GoldenTasks.Task t : GoldenTasks.load(GoldenTasks.modelDir())) {
                byScene.computeIfAbsent(t.scene(), k -> new ArrayList<>()).add(t);
            }
            List<Scene> out = new ArrayList<>();
            byScene.forEach((id, ts) -> out.add(new Scene(id, ts.get(0).visualTokens(), ts.get(0).visualCount(), ts)));
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String taskId(Scene s, int i) {
        return s.id() + "-t" + i;
    }

    static TaskRef task(String id, TaskKind kind, String prompt) {
        return TaskRef.newBuilder()
                .setTaskId(id)
                .setKind(kind)
                .setPrompt(prompt)
                .setSubmittedAt(Instant.now().minusMillis(50))
                .setAttributes(Map.of("source", "test"))
                .setLatencies(Map.of("encoders", 7L))
                .setImage("inline")
                .build();
    }

    static TaskRef task(String id, TaskKind kind, String prompt, GenerationOptions options) {
        return TaskRef.newBuilder(task(id, kind, prompt)).setOptions(options).build();
    }

    /** Every golden task of the scene, with ids {@code <scene>-t<i>}. */
    static List<TaskRef> tasks(Scene s) {
        List<TaskRef> refs = new ArrayList<>();
        for (int i = 0; i < s.tasks().size(); i++) {
            GoldenTasks.Task t = s.tasks().get(i);
            refs.add(task(taskId(s, i), TaskKind.valueOf(t.kind().toUpperCase(Locale.ROOT)), t.prompt()));
        }
        return refs;
    }

    static VisualTokens tokens(Scene s, String modelId, String dtype, List<TaskRef> tasks) {
        return VisualTokens.newBuilder()
                .setImageId("img-" + s.id())
                .setModelId(modelId)
                .setShape(List.of(s.count(), s.tokens().length / s.count()))
                .setDtype(dtype)
                .setPayload(ByteBuffer.wrap(TensorBytes.encode(s.tokens(), dtype)))
                .setClaimCheckUri(null)
                .setTasks(tasks)
                .build();
    }

    /** The reference answer of a task id made by {@link #tasks}. */
    static GoldenTasks.Task reference(String taskId) {
        for (Scene s : SCENES) {
            for (int i = 0; i < s.tasks().size(); i++) {
                if (taskId(s, i).equals(taskId)) {
                    return s.tasks().get(i);
                }
            }
        }
        throw new IllegalArgumentException(taskId);
    }
}
