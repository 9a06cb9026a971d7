package dev.mgmstream.views;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.ImageAnswer;
import dev.mgmstream.schemas.avro.ImageReport;
import dev.mgmstream.schemas.avro.TaskKind;

/** Answers gathered by image: the image report, and the caption that stands for the image. */
final class ImageReports {

    private ImageReports() {
    }

    /** The answer as a report holds it; null when it names no image (a task rejected before its image was read). */
    static ImageAnswer of(Answer a, long timestamp) {
        if (a.getImageId() == null || a.getImageId().isBlank()) {
            return null;
        }
        return ImageAnswer.newBuilder()
                .setTaskId(a.getTaskId())
                .setImageId(a.getImageId())
                .setKind(a.getKind())
                .setPrompt(a.getPrompt())
                .setStatus(a.getStatus())
                .setText(a.getText())
                .setReason(a.getReason())
                .setFinishReason(a.getFinishReason())
                .setModelId(a.getModelId())
                .setGeneratedImage(a.getGeneratedImage())
                .setAnsweredAt(Instant.ofEpochMilli(timestamp))
                .build();
    }

    /**
     * {@code report} with {@code answer} in it, at most {@code maxAnswers} kept. An answer for a task already
     * listed replaces it (a replayed answer is not a second one); the oldest go first when the list is full, so
     * an image asked about without end costs a bounded record, while {@code answer_count} still counts them all.
     */
    static ImageReport add(ImageReport report, ImageAnswer answer, int maxAnswers) {
        List<ImageAnswer> answers = new ArrayList<>(report == null ? List.of() : report.getAnswers());
        long count = report == null ? 0 : report.getAnswerCount();
        boolean replaced = answers.removeIf(a -> a.getTaskId().equals(answer.getTaskId()));
        if (!replaced) {
            count++;
        }
        answers.add(answer);
        answers.sort(Comparator.comparing(ImageAnswer::getAnsweredAt));
        while (answers.size() > maxAnswers) {
            answers.remove(0);
        }
        Instant updated = report == null || answer.getAnsweredAt().isAfter(report.getUpdatedAt())
                ? answer.getAnsweredAt() : report.getUpdatedAt();
        return ImageReport.newBuilder()
                .setImageId(answer.getImageId())
                .setAnswers(answers)
                .setAnswerCount(count)
                .setUpdatedAt(updated)
                .build();
    }

    /** Whether the answer is a caption of its image: a caption task the model answered. */
    static boolean isCaption(ImageAnswer a) {
        return a.getKind() == TaskKind.CAPTION && a.getStatus() == AnswerStatus.OK && a.getText() != null;
    }

    static Caption caption(ImageAnswer a) {
        return Caption.newBuilder()
                .setImageId(a.getImageId())
                .setText(a.getText())
                .setModelId(a.getModelId())
                .setTaskId(a.getTaskId())
                .setCaptionedAt(a.getAnsweredAt())
                .setFinishReason(a.getFinishReason())
                .build();
    }

    /**
     * The later of two captions of one image. Two caption tasks of one image are keyed by different task ids,
     * so they may sit on different partitions of answers and reach the view in either order: the answer's
     * own time decides, not the order of arrival (ties: the last to arrive).
     */
    static Caption later(Caption current, Caption candidate) {
        return candidate.getCaptionedAt().isBefore(current.getCaptionedAt()) ? current : candidate;
    }
}
