package dev.mgmstream.views;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.ImageRefs;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.TaskState;
import dev.mgmstream.schemas.avro.TaskStatus;

/**
 * What each topic says about a task, as a partial {@link TaskStatus}, and how two of them merge. The topics
 * reach the store in no fixed order (they are different topics and partitions, and a stage may be slower
 * than the next one's reader), so a merge never moves a task back: the furthest state wins, and each field
 * keeps the value whichever record knew it.
 */
final class TaskEvents {

    static final String PUBLISHED = "published";
    static final String ENCODED = "encoded";
    static final String GENERATED = "generated";
    static final String DEAD_LETTERED = "dead_lettered";
    static final String ANSWERED = "answered";

    private TaskEvents() {
    }

    static TaskStatus published(ImageTask t, long timestamp) {
        return base(t.getTaskId(), TaskState.PUBLISHED, PUBLISHED, timestamp)
                .setImageId(t.getImageId())
                .setKind(t.getKind())
                .setPrompt(t.getPrompt())
                .setImage(ImageRefs.describe(t))
                .build();
    }

    static TaskStatus encoded(TaskRef task, String imageId, long timestamp) {
        return base(task.getTaskId(), TaskState.ENCODED, ENCODED, timestamp)
                .setImageId(imageId)
                .setKind(task.getKind())
                .setPrompt(task.getPrompt())
                .setImage(task.getImage())
                .build();
    }

    /** For a visual-tokens record known only by its header: the task and the image, nothing more. */
    static TaskStatus encoded(String taskId, String imageId, long timestamp) {
        return base(taskId, TaskState.ENCODED, ENCODED, timestamp).setImageId(imageId).build();
    }

    static TaskStatus generated(GeneratedImage g, long timestamp) {
        TaskStatus.Builder b = base(g.getTaskId(), TaskState.GENERATED, GENERATED, timestamp)
                .setGeneratedImage(g.getImageUri());
        GenerationRequest request = g.getRequest();
        if (request != null) {
            b.setImageId(request.getImageId())
                    .setKind(request.getTask().getKind())
                    .setPrompt(request.getTask().getPrompt())
                    .setImage(request.getTask().getImage());
        }
        return b.build();
    }

    static TaskStatus answered(Answer a, long timestamp) {
        TaskState state = switch (a.getStatus()) {
            case OK -> TaskState.ANSWERED;
            case REJECTED -> TaskState.REJECTED;
            case FAILED -> TaskState.FAILED;
            // never written (the enum's default for readers older than a new status): rank it as no news
            case UNKNOWN -> TaskState.UNKNOWN;
        };
        return base(a.getTaskId(), state, ANSWERED, timestamp)
                .setImageId(a.getImageId())
                .setKind(a.getKind())
                .setPrompt(a.getPrompt())
                .setImage(a.getImage())
                .setAnswer(a.getText())
                .setGeneratedImage(a.getGeneratedImage())
                .setModelId(a.getModelId())
                .setReason(a.getReason())
                .build();
    }

    static TaskStatus deadLettered(String taskId, Rejection r, long timestamp) {
        return base(taskId, TaskState.DEAD_LETTERED, DEAD_LETTERED, timestamp)
                .setDeadLetter(deadLetterReason(r))
                .build();
    }

    /** The stage, and the error in the words its message gives (the class alone when it has none). */
    static String deadLetterReason(Rejection r) {
        String simple = r.getErrorClass().substring(r.getErrorClass().lastIndexOf('.') + 1);
        String message = r.getErrorMessage() == null || r.getErrorMessage().isBlank() ? simple : r.getErrorMessage();
        return r.getStage() + ": " + message;
    }

    /** {@code current} with {@code news} merged in; either may be the older record. */
    static TaskStatus merge(TaskStatus current, TaskStatus news) {
        if (current == null) {
            return news;
        }
        int was = rank(current.getState());
        int now = rank(news.getState());
        boolean newer = news.getUpdatedAt().compareTo(current.getUpdatedAt()) >= 0;
        // Equal ranks (two outcomes for one task, as a replay could write) go to the later record.
        TaskState state = now > was || (now == was && newer) ? news.getState() : current.getState();
        Map<String, Long> times = new HashMap<>(current.getTimes());
        news.getTimes().forEach((step, at) -> times.merge(step, at, Math::max));
        TaskStatus first = newer ? current : news;
        TaskStatus last = newer ? news : current;
        return TaskStatus.newBuilder()
                .setTaskId(current.getTaskId())
                .setState(state)
                .setImageId(pick(first.getImageId(), last.getImageId()))
                .setKind(pick(first.getKind(), last.getKind()))
                .setPrompt(pick(first.getPrompt(), last.getPrompt()))
                .setImage(pick(first.getImage(), last.getImage()))
                .setAnswer(pick(first.getAnswer(), last.getAnswer()))
                .setGeneratedImage(pick(first.getGeneratedImage(), last.getGeneratedImage()))
                .setModelId(pick(first.getModelId(), last.getModelId()))
                .setReason(pick(first.getReason(), last.getReason()))
                .setDeadLetter(pick(first.getDeadLetter(), last.getDeadLetter()))
                .setTimes(times)
                .setUpdatedAt(last.getUpdatedAt())
                .build();
    }

    /** How far along a state is; the outcomes of an Answer share the last rank. */
    static int rank(TaskState state) {
        return switch (state) {
            case UNKNOWN -> 0;
            case PUBLISHED -> 1;
            case ENCODED -> 2;
            case GENERATED -> 3;
            case DEAD_LETTERED -> 4;
            case ANSWERED, REJECTED, FAILED -> 5;
        };
    }

    /** The later record's value where it has one, the earlier's otherwise. */
    private static <T> T pick(T earlier, T later) {
        return later != null ? later : earlier;
    }

    private static TaskStatus.Builder base(String taskId, TaskState state, String step, long timestamp) {
        return TaskStatus.newBuilder()
                .setTaskId(taskId)
                .setState(state)
                .setTimes(Map.of(step, timestamp))
                .setUpdatedAt(Instant.ofEpochMilli(timestamp));
    }

}
