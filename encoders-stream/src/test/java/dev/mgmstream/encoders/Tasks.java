package dev.mgmstream.encoders;

import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.ImageUri;
import dev.mgmstream.schemas.avro.InlineImage;
import dev.mgmstream.schemas.avro.TaskKind;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Map;

/** ImageTask records for tests. */
final class Tasks {

    private Tasks() {
    }

    static ImageTask inline(String taskId, byte[] image, String prompt) {
        return ImageTask.newBuilder()
                .setTaskId(taskId)
                .setImage(InlineImage.newBuilder().setData(ByteBuffer.wrap(image)).setMediaType(null).build())
                .setKind(prompt == null ? TaskKind.CAPTION : TaskKind.VQA)
                .setPrompt(prompt)
                .setSubmittedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .setAttributes(Map.of("test", taskId))
                .build();
    }

    static ImageTask uri(String taskId, String uri) {
        return ImageTask.newBuilder()
                .setTaskId(taskId)
                .setImage(ImageUri.newBuilder().setUri(uri).build())
                .setKind(TaskKind.CAPTION)
                .setSubmittedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .build();
    }

    static InputRecord<String, ImageTask> record(int index, ImageTask task) {
        return new InputRecord<>(index, "image-tasks", 0, index, System.currentTimeMillis(), task.getTaskId(), task);
    }
}
