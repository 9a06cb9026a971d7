package dev.mgmstream.schemas.avro;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mgmstream.schemas.topics.TopicRole;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

/** Rules every topic's contract must keep so that it can evolve without breaking deployed readers. */
class SchemaContractsTest {

    static Schema v1ImageTask() throws IOException {
        try (InputStream in = SchemaContractsTest.class.getResourceAsStream("/avro/v1/ImageTask.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void everyNullableFieldDefaultsToNull() {
        List<String> offenders = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (TopicRole role : TopicRole.values()) {
            collectNullableFieldsWithoutNullDefault(SpecificData.get().getSchema(role.valueType()), seen, offenders);
        }
        assertThat(offenders).isEmpty();
        assertThat(seen).contains("dev.mgmstream.schemas.avro.TaskRef", "dev.mgmstream.schemas.avro.GenerationOptions");
    }

    private static void collectNullableFieldsWithoutNullDefault(Schema schema, Set<String> seen, List<String> offenders) {
        switch (schema.getType()) {
            case RECORD -> {
                if (!seen.add(schema.getFullName())) {
                    return;
                }
                for (Schema.Field field : schema.getFields()) {
                    Schema type = field.schema();
                    if (type.isNullable() && (!field.hasDefaultValue() || field.defaultVal() != org.apache.avro.JsonProperties.NULL_VALUE)) {
                        offenders.add(schema.getName() + "." + field.name());
                    }
                    collectNullableFieldsWithoutNullDefault(type, seen, offenders);
                }
            }
            case UNION -> schema.getTypes().forEach(t -> collectNullableFieldsWithoutNullDefault(t, seen, offenders));
            case ARRAY -> collectNullableFieldsWithoutNullDefault(schema.getElementType(), seen, offenders);
            case MAP -> collectNullableFieldsWithoutNullDefault(schema.getValueType(), seen, offenders);
            default -> { }
        }
    }

    @Test
    void currentImageTaskIsBackwardAndForwardCompatibleWithV1() throws IOException {
        Schema v1 = v1ImageTask();
        Schema current = ImageTask.getClassSchema();

        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(current, v1).getType())
                .as("the current reader reads v1 records (BACKWARD)")
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(v1, current).getType())
                .as("a v1 reader reads current records")
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
    }

    @Test
    void aV1ReaderReadsACurrentRecordIgnoringWhatItDoesNotKnow() throws IOException {
        ImageTask task = ImageTask.newBuilder()
                .setTaskId("task-1")
                .setImageId("ab".repeat(32))
                .setImage(new ImageUri("s3://bucket/cat.png", "image/png", 1234L))
                .setKind(TaskKind.VQA)
                .setPrompt("What colour is the cat?")
                .setOptions(new GenerationOptions(64, 0.0f, null, 7L))
                .setSubmittedAt(Instant.ofEpochMilli(1_700_000_000_123L))
                .setAttributes(Map.of("tenant", "acme"))
                .setTraceId("trace-9")
                .build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        new SpecificDatumWriter<>(ImageTask.class).write(task, encoder);

        GenericRecord old = new GenericDatumReader<GenericRecord>(ImageTask.getClassSchema(), v1ImageTask())
                .read(null, DecoderFactory.get().binaryDecoder(out.toByteArray(), null));

        assertThat(old.getSchema().getFields()).hasSize(5);
        assertThat(old.get("task_id")).hasToString("task-1");
        assertThat(old.get("kind")).hasToString("VQA");
        assertThat(old.get("prompt")).hasToString("What colour is the cat?");
        assertThat(old.get("submitted_at")).isEqualTo(1_700_000_000_123L);
        GenericRecord image = (GenericRecord) old.get("image");
        assertThat(image.getSchema().getName()).isEqualTo("ImageUri");
        assertThat(image.get("uri")).hasToString("s3://bucket/cat.png");
    }

    @Test
    void aReaderOfTheCurrentAnswerReadsAStatusAddedLaterAsUnknown() throws IOException {
        Schema current = Answer.getClassSchema();
        Schema later = new Schema.Parser().parse(current.toString()
                .replace("\"FAILED\",\"UNKNOWN\"]", "\"FAILED\",\"UNKNOWN\",\"CANCELLED\"]"));
        assertThat(later.getField("status").schema().getEnumSymbols()).contains("CANCELLED");
        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(current, later).getType())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);

        Answer answer = Answer.newBuilder().setTaskId("t").setStatus(AnswerStatus.OK)
                .setPromptTokens(0).setCompletionTokens(0).build();
        GenericRecord written = (GenericRecord) GenericData.get().deepCopy(later, answer);
        written.put("status", new GenericData.EnumSymbol(later.getField("status").schema(), "CANCELLED"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(later).write(written, encoder);

        Answer read = new SpecificDatumReader<Answer>(later, current)
                .read(null, DecoderFactory.get().binaryDecoder(out.toByteArray(), null));

        assertThat(read.getStatus()).isEqualTo(AnswerStatus.UNKNOWN);
        assertThat(read.getTaskId()).hasToString("t");
    }

    @Test
    void inlineImagesKeepTheirBytes() {
        ImageTask task = ImageTask.newBuilder()
                .setTaskId("t").setImage(new InlineImage(ByteBuffer.wrap(new byte[] {1, 2, 3}), null))
                .setKind(TaskKind.CAPTION).setSubmittedAt(Instant.EPOCH).build();

        assertThat(task.getAttributes()).isEmpty();
        assertThat(task.getOptions()).isNull();
        assertThat(((InlineImage) task.getImage()).getData().remaining()).isEqualTo(3);
    }
}
