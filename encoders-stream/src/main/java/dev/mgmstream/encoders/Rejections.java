package dev.mgmstream.encoders;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.RejectionHook;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.ImageRefs;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * What a rejected task leaves behind: a typed {@code Rejection} in the stage's dead-letter topic (with the
 * original bytes, for inspection or replay) and an {@code Answer} with status {@code REJECTED}, so the user
 * who sent the task learns why without reading the dead-letter topic.
 */
final class Rejections {

    private Rejections() {
    }

    static RejectionHook<String, ImageTask> answers(OutputTopic<String, Answer> answers, String stage) {
        return (rejected, decoded) -> {
            // The value's own id first: the record key is only a convention of the producer. A task rejected
            // because it shares its image's tokens with a task that failed is answered here like any other.
            String taskId = decoded.map(in -> in.value() != null && in.value().getTaskId() != null
                            ? in.value().getTaskId() : in.key())
                    .orElse(rejected.key() == null ? null : new String(rejected.key(), StandardCharsets.UTF_8));
            if (taskId == null) {
                return List.of(); // nobody to tell: the dead-letter record keeps it
            }
            Answer.Builder a = Answer.newBuilder()
                    .setTaskId(taskId)
                    .setStatus(AnswerStatus.REJECTED)
                    .setReason(reason(rejected.errorClass(), rejected.errorMessage(), stage));
            decoded.map(InputRecord::value).ifPresent(t -> a
                    .setImageId(t.getImageId())
                    .setKind(t.getKind())
                    .setPrompt(t.getPrompt())
                    .setAttributes(t.getAttributes())
                    .setTraceId(t.getTraceId())
                    .setImage(ImageRefs.describe(t))
                    .setLatencies(Map.of("encoders", Math.max(0, System.currentTimeMillis() - decoded.get().timestamp()))));
            return List.of(new Output<>(rejected.index(), answers, taskId, a.build()));
        };
    }

    /** The user-facing reason: an image rejection says it in its own words; anything else names the failure. */
    static String reason(String errorClass, String message, String stage) {
        if (ImageRejectedException.class.getName().equals(errorClass)) {
            return "image rejected: " + message;
        }
        String simple = errorClass.substring(Math.max(errorClass.lastIndexOf('.'), errorClass.lastIndexOf('$')) + 1);
        return "the " + stage + " stage could not process the task (" + simple + (message == null ? "" : ": " + message)
                + ")";
    }
}
