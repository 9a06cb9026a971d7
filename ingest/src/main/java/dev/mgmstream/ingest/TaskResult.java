package dev.mgmstream.ingest;

import java.util.Locale;
import java.util.Objects;

import dev.mgmstream.schemas.avro.Answer;

/**
 * One line of a result file: {@code task_id, image, image_id, kind, prompt, status ("ok" | "rejected" |
 * "failed"), answer, generation_prompt, generated_image, reason, latency_ms}, the fields that do not
 * apply left out.
 */
public record TaskResult(String taskId, String image, String imageId, String kind, String prompt, String status,
                         String answer, String generationPrompt, String generatedImage, String reason,
                         Long latencyMs, String finishReason) {

    public static final String OK = "ok";
    public static final String REJECTED = "rejected";
    public static final String FAILED = "failed";

    public TaskResult {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(status, "status");
    }

    /**
     * The result an answer stands for.
     *
     * @param image       the image as the user named it; null to use what the answer says of it
     * @param fallbackMs  latency to report when the answer carries no end-to-end figure
     */
    public static TaskResult of(Answer a, String image, long fallbackMs) {
        Long total = a.getLatencies().get("total");
        return new TaskResult(a.getTaskId(), image != null ? image : a.getImage(), a.getImageId(),
                a.getKind() == null ? null : a.getKind().name().toLowerCase(Locale.ROOT), a.getPrompt(),
                a.getStatus().name().toLowerCase(Locale.ROOT), a.getText(), a.getGenerationPrompt(),
                a.getGeneratedImage(), a.getReason(), total != null ? total : fallbackMs,
                a.getFinishReason() == null ? null : a.getFinishReason().name().toLowerCase(Locale.ROOT));
    }

    /** A task the pipeline never saw: refused before publishing (unreadable file, malformed line). */
    public static TaskResult refused(String taskId, TaskSpec task, String reason) {
        return new TaskResult(taskId, task == null ? null : task.image(), null,
                task == null ? null : TaskFile.kindName(task.kind()), task == null ? null : task.prompt(), REJECTED,
                null, null, null, reason, null, null);
    }
}
