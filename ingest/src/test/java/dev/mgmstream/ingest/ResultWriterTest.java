package dev.mgmstream.ingest;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.TaskKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class ResultWriterTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void writesTheFieldsThatApplyInTheDocumentedNames() throws Exception {
        Answer a = Answer.newBuilder().setTaskId("t1").setImageId("abc").setStatus(AnswerStatus.OK)
                .setText("red").setKind(TaskKind.VQA).setPrompt("What color is the circle?")
                .setLatencies(Map.of("encoders", 3L, "total", 41L)).build();
        JsonNode line = JSON.readTree(ResultWriter.line(TaskResult.of(a, "scenes/a.png", 99)));

        assertThat(line.fieldNames()).toIterable().containsExactly(
                "task_id", "image", "image_id", "kind", "prompt", "status", "answer", "latency_ms");
        assertThat(line.get("status").asText()).isEqualTo("ok");
        assertThat(line.get("kind").asText()).isEqualTo("vqa");
        assertThat(line.get("answer").asText()).isEqualTo("red");
        assertThat(line.get("latency_ms").asLong()).isEqualTo(41);
        assertThat(line.get("image").asText()).isEqualTo("scenes/a.png");
    }

    @Test
    void aGenerateAnswerCarriesItsGenerationPromptAndARejectionItsReason() throws Exception {
        Answer gen = Answer.newBuilder().setTaskId("g").setStatus(AnswerStatus.OK).setKind(TaskKind.GENERATE)
                .setText("<h>a red circle.</h>").setGenerationPrompt("a red circle.").build();
        JsonNode g = JSON.readTree(ResultWriter.line(TaskResult.of(gen, null, 12)));
        assertThat(g.get("generation_prompt").asText()).isEqualTo("a red circle.");
        assertThat(g.get("latency_ms").asLong()).isEqualTo(12);
        assertThat(g.has("generated_image")).isFalse();

        Answer bad = Answer.newBuilder().setTaskId("r").setStatus(AnswerStatus.REJECTED)
                .setReason("not an image").setImage("inline image/png (4 bytes)").build();
        JsonNode r = JSON.readTree(ResultWriter.line(TaskResult.of(bad, null, 5)));
        assertThat(r.get("status").asText()).isEqualTo("rejected");
        assertThat(r.get("reason").asText()).isEqualTo("not an image");
        assertThat(r.get("image").asText()).isEqualTo("inline image/png (4 bytes)");
        assertThat(r.has("answer")).isFalse();
    }

    @Test
    void eachResultIsOnDiskAsSoonAsItIsWritten() throws Exception {
        Path file = dir.resolve("out/results.jsonl");
        try (ResultWriter w = ResultWriter.create(file)) {
            w.write(TaskResult.refused("a", null, "line 3: bad"));
            assertThat(Files.readAllLines(file)).hasSize(1);
            w.write(TaskResult.refused("b", null, "line 4: bad"));
            assertThat(Files.readAllLines(file)).hasSize(2);
        }
        StringWriter s = new StringWriter();
        new ResultWriter(s).write(TaskResult.refused("c", null, "why"));
        assertThat(s.toString()).isEqualTo("{\"task_id\":\"c\",\"status\":\"rejected\",\"reason\":\"why\"}\n");
    }
}
