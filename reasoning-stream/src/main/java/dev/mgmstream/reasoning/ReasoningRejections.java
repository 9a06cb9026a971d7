package dev.mgmstream.reasoning;

import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.RejectedRecord;
import dev.mgmstream.pipeline.stage.RejectionHook;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a rejected VisualTokens record leaves behind: a typed {@code Rejection} in {@code dlq.reasoning}
 * (original bytes kept for inspection or replay) and, for every task that travelled with it, an
 * {@code Answer} with status REJECTED and the reason, so each user learns why; for a record that does not even
 * decode, the tasks are the ones its {@link TaskIdsHeader} names.
 */
final class ReasoningRejections {

    private ReasoningRejections() {
    }

    static RejectionHook<String, VisualTokens> answers(OutputTopic<String, Answer> answers, ReasoningMetrics metrics) {
        return (rejected, decoded) -> {
            String reason = reason(rejected.errorClass(), rejected.errorMessage());
            if (decoded.isEmpty()) {
                return undecoded(rejected, reason, answers, metrics);
            }
            InputRecord<String, VisualTokens> in = decoded.get();
            List<Output<?, ?>> out = new ArrayList<>();
            long now = System.currentTimeMillis();
            for (TaskRef task : in.value().getTasks()) {
                metrics.answer(AnswerStatus.REJECTED);
                out.add(new Output<>(rejected.index(), answers, task.getTaskId(),
                        ReasoningBatch.answer(task, in, null, AnswerStatus.REJECTED)
                                .setReason(reason)
                                .setLatencies(ReasoningBatch.latencies(task, in, now))
                                .build()));
            }
            return out;
        };
    }

    /**
     * Answers for a record whose value did not decode: its tasks are named only in the header the encoders
     * write, and without these answers they would never end. A record without the header names nobody; the
     * dead-letter record keeps it.
     */
    private static List<Output<?, ?>> undecoded(RejectedRecord rejected, String reason,
                                                OutputTopic<String, Answer> answers, ReasoningMetrics metrics) {
        List<String> taskIds = TaskIdsHeader.decode(rejected.headers().get(TaskIdsHeader.NAME));
        String imageId = rejected.key() == null ? null : new String(rejected.key(), StandardCharsets.UTF_8);
        List<Output<?, ?>> out = new ArrayList<>(taskIds.size());
        for (String taskId : taskIds) {
            metrics.answer(AnswerStatus.REJECTED);
            out.add(new Output<>(rejected.index(), answers, taskId, Answer.newBuilder()
                    .setTaskId(taskId)
                    .setImageId(imageId)
                    .setStatus(AnswerStatus.REJECTED)
                    .setReason(reason)
                    .build()));
        }
        return out;
    }

    static String reason(String errorClass, String message) {
        if (InvalidVisualTokensException.class.getName().equals(errorClass)) {
            return "visual tokens rejected: " + message;
        }
        String simple = errorClass.substring(errorClass.lastIndexOf('.') + 1);
        return "the reasoning stage could not process the task (" + simple + (message == null ? "" : ": " + message)
                + ")";
    }
}
