package dev.mgmstream.ingest;

import java.util.Map;
import java.util.Objects;

import dev.mgmstream.schemas.avro.GenerationOptions;
import dev.mgmstream.schemas.avro.TaskKind;

/**
 * One task as a task file states it, validated.
 *
 * @param line    1-based line of the task file it came from (0 when it did not come from a file)
 * @param image   the image exactly as the user wrote it (a path or a URI), echoed in the result
 * @param options decoding options, or null for the stage defaults
 */
public record TaskSpec(int line, String taskId, String image, TaskKind kind, String prompt,
                       Map<String, String> attributes, GenerationOptions options) {

    public static final String DEFAULT_CAPTION_PROMPT = "Describe the image.";

    public TaskSpec {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(kind, "kind");
        if (taskId.isBlank()) {
            throw new IllegalArgumentException("task_id must not be blank");
        }
        if (image.isBlank()) {
            throw new IllegalArgumentException("image must not be blank");
        }
        if (prompt == null || prompt.isBlank()) {
            if (kind != TaskKind.CAPTION) {
                throw new IllegalArgumentException("a " + TaskFile.kindName(kind) + " task needs a prompt");
            }
            prompt = DEFAULT_CAPTION_PROMPT;
        }
        attributes = attributes == null ? Map.of() : Map.copyOf(attributes);
    }
}
