package dev.mgmstream.reasoning;

import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.RejectionHook;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.util.ArrayList;
import java.util.List;

/**
 * What a rejected VisualTokens record leaves behind: a typed {@code Rejection} in {@code dlq.reasoning}
 * (original bytes kept for inspection or replay) and, for every task that travelled with it, an
 * {@code Answer} with status REJECTED and the reason, so each user learns why.
 */
final class ReasoningRejections {

    private ReasoningRejections() {
    }

    static RejectionHook<String, VisualTokens> answers(OutputTopic<String, Answer> answers, ReasoningMetrics metrics) {
        return (rejected, decoded) -> {
            if (decoded.isEmpty()) {
                return List.of(); // undecodable bytes name no task: the dead-letter record keeps them
            }
            InputRecord<String, VisualTokens> in = decoded.get();
            String reason = reason(rejected.errorClass(), rejected.errorMessage());
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

    static String reason(String errorClass, String message) {
        if (InvalidVisualTokensException.class.getName().equals(errorClass)) {
            return "visual tokens rejected: " + message;
        }
        String simple = errorClass.substring(errorClass.lastIndexOf('.') + 1);
        return "the reasoning stage could not process the task (" + simple + (message == null ? "" : ": " + message)
                + ")";
    }
}
