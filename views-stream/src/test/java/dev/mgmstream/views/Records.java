package dev.mgmstream.views;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.FinishReason;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.ImageUri;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;

/** The pipeline's records as the stages write them, small, for the views' tests. */
final class Records {

    static final String MODEL = "mgm-tiny@test";

    private Records() {
    }

    static ImageTask task(String taskId, TaskKind kind, String prompt) {
        return ImageTask.newBuilder()
                .setTaskId(taskId)
                .setImage(new ImageUri("file:/scenes/" + taskId + ".png", "image/png", 10L))
                .setKind(kind)
                .setPrompt(prompt)
                .setSubmittedAt(Instant.ofEpochMilli(1))
                .build();
    }

    static TaskRef ref(String taskId, TaskKind kind, String prompt) {
        return TaskRef.newBuilder()
                .setTaskId(taskId)
                .setKind(kind)
                .setPrompt(prompt)
                .setSubmittedAt(Instant.ofEpochMilli(1))
                .setImage("file:/scenes/" + taskId + ".png")
                .build();
    }

    static VisualTokens tokens(String imageId, TaskRef... tasks) {
        return VisualTokens.newBuilder()
                .setImageId(imageId)
                .setModelId("encoders@test")
                .setShape(List.of(1, 4))
                .setDtype("float32")
                .setPayload(ByteBuffer.wrap(new byte[16]))
                .setTasks(List.of(tasks))
                .build();
    }

    static Answer answer(String taskId, String imageId, TaskKind kind, AnswerStatus status, String text, String reason) {
        return Answer.newBuilder()
                .setTaskId(taskId)
                .setImageId(imageId)
                .setStatus(status)
                .setText(text)
                .setFinishReason(status == AnswerStatus.OK ? FinishReason.STOP : null)
                .setModelId(status == AnswerStatus.OK ? MODEL : null)
                .setReason(reason)
                .setKind(kind)
                .setPrompt(kind == TaskKind.CAPTION ? null : "prompt of " + taskId)
                .setLatencies(Map.of("total", 5L))
                .build();
    }

    static GeneratedImage generated(String taskId, String imageId) {
        return GeneratedImage.newBuilder()
                .setTaskId(taskId)
                .setImageUri("file:/generated/" + taskId + ".png")
                .setSha256("00")
                .setWidth(64)
                .setHeight(64)
                .setSeed(7)
                .setRequest(GenerationRequest.newBuilder()
                        .setTaskId(taskId)
                        .setImageId(imageId)
                        .setPrompt("a red circle")
                        .setSeed(7)
                        .setTask(ref(taskId, TaskKind.GENERATE, "prompt of " + taskId))
                        .build())
                .build();
    }

    static Rejection rejection(String stage, String sourceTopic, String taskId, byte[] value, String message) {
        return Rejection.newBuilder()
                .setSourceTopic(sourceTopic)
                .setPartition(0)
                .setOffset(42)
                .setValue(value == null ? null : ByteBuffer.wrap(value))
                .setErrorClass("java.lang.IllegalArgumentException")
                .setErrorMessage(message)
                .setStage(stage)
                .setTime(Instant.ofEpochMilli(1))
                .setTaskId(taskId)
                .build();
    }
}
