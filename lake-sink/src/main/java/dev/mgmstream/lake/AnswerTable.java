package dev.mgmstream.lake;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import dev.mgmstream.schemas.avro.Answer;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Schema;
import org.apache.iceberg.data.GenericRecord;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.types.Types;

import static org.apache.iceberg.types.Types.NestedField.optional;
import static org.apache.iceberg.types.Types.NestedField.required;

/**
 * The answers table: one column per {@link Answer} field (enums as their lower-case names, as the
 * CLI prints them), the task's attributes as a map, and where the row came from in Kafka. Partitioned
 * by the day the answer was written to the answers topic.
 *
 * <p>Field ids are fixed here, never reassigned: Iceberg tracks columns by id, so a later column is
 * added with a new id and old files stay readable.
 */
public final class AnswerTable {

    public static final Schema SCHEMA = new Schema(
            required(1, "task_id", Types.StringType.get(), "The ImageTask's task_id"),
            optional(2, "image_id", Types.StringType.get(), "SHA-256 of the image bytes"),
            required(3, "status", Types.StringType.get(), "ok, rejected, failed; unknown: newer than the sink"),
            optional(4, "text", Types.StringType.get(), "The model's answer"),
            optional(5, "finish_reason", Types.StringType.get(), "stop, length, error or unknown"),
            required(6, "prompt_tokens", Types.IntegerType.get()),
            required(7, "completion_tokens", Types.IntegerType.get()),
            optional(8, "model_id", Types.StringType.get()),
            optional(9, "latencies", Types.MapType.ofRequired(10, 11, Types.StringType.get(), Types.LongType.get()),
                    "Milliseconds per stage, plus total"),
            optional(12, "reason", Types.StringType.get(), "Why the task was rejected or failed"),
            optional(13, "kind", Types.StringType.get(), "caption, vqa or generate"),
            optional(14, "prompt", Types.StringType.get()),
            optional(15, "generation_prompt", Types.StringType.get()),
            optional(16, "generated_image", Types.StringType.get()),
            optional(17, "attributes", Types.MapType.ofRequired(18, 19, Types.StringType.get(), Types.StringType.get()),
                    "The task's free-form attributes"),
            optional(20, "image", Types.StringType.get(), "The input image as the user named it"),
            optional(21, "trace_id", Types.StringType.get()),
            required(22, "answered_at", Types.TimestampType.withZone(), "Timestamp of the answer record in Kafka"),
            required(23, "kafka_topic", Types.StringType.get()),
            required(24, "kafka_partition", Types.IntegerType.get()),
            required(25, "kafka_offset", Types.LongType.get()));

    public static final PartitionSpec SPEC = PartitionSpec.builderFor(SCHEMA).day("answered_at").build();

    private AnswerTable() {
    }

    /** The row for one answer read from {@code topic}-{@code partition} at {@code offset}. */
    public static Record row(Answer a, String topic, int partition, long offset, long timestampMillis) {
        GenericRecord r = GenericRecord.create(SCHEMA);
        r.setField("task_id", a.getTaskId());
        r.setField("image_id", a.getImageId());
        r.setField("status", lower(a.getStatus()));
        r.setField("text", a.getText());
        r.setField("finish_reason", lower(a.getFinishReason()));
        r.setField("prompt_tokens", a.getPromptTokens());
        r.setField("completion_tokens", a.getCompletionTokens());
        r.setField("model_id", a.getModelId());
        r.setField("latencies", new LinkedHashMap<>(a.getLatencies()));
        r.setField("reason", a.getReason());
        r.setField("kind", lower(a.getKind()));
        r.setField("prompt", a.getPrompt());
        r.setField("generation_prompt", a.getGenerationPrompt());
        r.setField("generated_image", a.getGeneratedImage());
        Map<String, String> attributes = new LinkedHashMap<>(a.getAttributes());
        r.setField("attributes", attributes);
        r.setField("image", a.getImage());
        r.setField("trace_id", a.getTraceId());
        r.setField("answered_at", OffsetDateTime.ofInstant(Instant.ofEpochMilli(timestampMillis), ZoneOffset.UTC));
        r.setField("kafka_topic", topic);
        r.setField("kafka_partition", partition);
        r.setField("kafka_offset", offset);
        return r;
    }

    private static String lower(Enum<?> e) {
        return e == null ? null : e.name().toLowerCase(Locale.ROOT);
    }
}
