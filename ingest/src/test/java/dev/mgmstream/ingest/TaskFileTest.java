package dev.mgmstream.ingest;

import java.nio.file.Path;
import java.util.List;

import dev.mgmstream.schemas.avro.TaskKind;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TaskFileTest {

    private static TaskFile.Contents parse(String... lines) {
        return TaskFile.parse(List.of(lines).iterator(), Path.of("/data"));
    }

    @Test
    void readsEveryKindWithItsDefaults() {
        TaskFile.Contents c = parse(
                "{\"task_id\": \"a\", \"image\": \"cat.png\", \"kind\": \"caption\"}",
                "{\"image\": \"s3://bucket/dog.jpg\", \"kind\": \"VQA\", \"prompt\": \"What color is the dog?\"}",
                "{\"task_id\": \"c\", \"image\": \"x.png\", \"kind\": \"generate\", \"prompt\": \"Make it red.\","
                        + " \"attributes\": {\"customer\": \"acme\", \"n\": 3}, \"options\": {\"max_new_tokens\": 40, \"seed\": 7}}");

        assertThat(c.errors()).isEmpty();
        assertThat(c.tasks()).hasSize(3);
        TaskSpec caption = c.tasks().get(0);
        assertThat(caption.kind()).isEqualTo(TaskKind.CAPTION);
        assertThat(caption.prompt()).isEqualTo("Describe the image.");
        assertThat(caption.line()).isEqualTo(1);
        assertThat(c.tasks().get(1).taskId()).isNotBlank();
        assertThat(c.tasks().get(1).kind()).isEqualTo(TaskKind.VQA);
        TaskSpec gen = c.tasks().get(2);
        assertThat(gen.attributes()).containsEntry("customer", "acme").containsEntry("n", "3");
        assertThat(gen.options().getMaxNewTokens()).isEqualTo(40);
        assertThat(gen.options().getSeed()).isEqualTo(7L);
    }

    @Test
    void aJsonMistakeIsExplainedInTheUsersWordsNotTheParsers() {
        TaskFile.Contents c = parse("{\"image\": \"a.png\" \"kind\": \"caption\"}", "{\"image\": ");
        assertThat(c.errors().get(0).message())
                .isEqualTo("not valid JSON: a comma is missing between two fields (column 19)");
        assertThat(c.errors().get(1).message()).startsWith("not valid JSON: the line ends before the object is closed");
        assertThat(c.errors()).allSatisfy(e -> assertThat(e.message()).doesNotContain("code 34").doesNotContain("token"));
    }

    @Test
    void reportsEachBadLineByNumberAndKeepsTheOthers() {
        TaskFile.Contents c = parse(
                "{\"task_id\": \"ok1\", \"image\": \"a.png\", \"kind\": \"caption\"}",
                "this is not json",
                "",
                "{\"task_id\": \"v\", \"image\": \"a.png\", \"kind\": \"vqa\"}",
                "{\"image\": \"a.png\", \"kind\": \"paint\"}",
                "[1, 2]",
                "{\"task_id\": \"ok1\", \"image\": \"b.png\", \"kind\": \"caption\"}",
                "{\"image\": \"a.png\", \"kind\": \"caption\", \"promt\": \"typo\"}",
                "{\"kind\": \"caption\"}",
                "{\"task_id\": \"ok2\", \"image\": \"a.png\", \"kind\": \"generate\", \"prompt\": \"Draw it.\"}");

        assertThat(c.tasks()).extracting(TaskSpec::taskId).containsExactly("ok1", "ok2");
        assertThat(c.errors()).extracting(TaskFile.LineError::line).containsExactly(2, 4, 5, 6, 7, 8, 9);
        assertThat(c.errors().get(0).message()).startsWith("not valid JSON");
        assertThat(c.errors().get(1).message()).isEqualTo("a vqa task needs a prompt");
        assertThat(c.errors().get(1).taskId()).isEqualTo("v");
        assertThat(c.errors().get(2).message()).contains("unknown kind 'paint'");
        assertThat(c.errors().get(3).message()).isEqualTo("expected a JSON object {...}, found an array");
        assertThat(c.errors().get(4).message()).contains("already used on line 1");
        assertThat(c.errors().get(5).message()).contains("unknown field 'promt'");
        assertThat(c.errors().get(6).message()).contains("'image' is required");
        assertThat(c.errors().get(0).toString()).startsWith("line 2: ");
    }

    @Test
    void theFirstLineNamingATaskIdKeepsItAndEveryOtherLineGetsAResultIdNoTaskUses() {
        TaskFile.Contents c = parse(
                "{\"task_id\": \"a\", \"image\": \"a.png\", \"kind\": \"caption\"}",
                "not json",
                "{\"task_id\": \"a\", \"image\": \"b.png\", \"kind\": \"caption\"}",
                "{\"task_id\": \"line-2\", \"image\": \"a.png\", \"kind\": \"caption\"}",
                "{\"task_id\": \"v\", \"image\": \"a.png\", \"kind\": \"vqa\"}",
                "{\"task_id\": \"v\", \"image\": \"a.png\", \"kind\": \"vqa\", \"prompt\": \"ok?\"}",
                "{\"task_id\": \"a\", \"image\": \"a.png\", \"kind\": \"vqa\"}");

        assertThat(c.tasks()).extracting(TaskSpec::taskId).containsExactly("a", "line-2");
        assertThat(c.errors()).extracting(TaskFile.LineError::line).containsExactly(2, 3, 5, 6, 7);
        assertThat(c.errors()).extracting(TaskFile.LineError::resultId)
                .containsExactly("line-2-2", "line-3", "v", "line-6", "line-7");
        assertThat(c.errors().get(1).taskId()).isEqualTo("a");
        assertThat(c.errors().get(1).message()).isEqualTo("task_id 'a' was already used on line 1");
        assertThat(c.errors().get(3).message()).isEqualTo("task_id 'v' was already used on line 5");
        assertThat(c.errors().get(4).message())
                .isEqualTo("a vqa task needs a prompt; and task_id 'a' was already used on line 1");
    }

    @Test
    void rejectsOptionsAndAttributesOfTheWrongShape() {
        TaskFile.Contents c = parse(
                "{\"image\": \"a.png\", \"kind\": \"caption\", \"options\": {\"temperature\": \"hot\"}}",
                "{\"image\": \"a.png\", \"kind\": \"caption\", \"options\": {\"beam\": 4}}",
                "{\"image\": \"a.png\", \"kind\": \"caption\", \"attributes\": {\"x\": {\"y\": 1}}}",
                "{\"image\": 5, \"kind\": \"caption\"}");
        assertThat(c.tasks()).isEmpty();
        assertThat(c.errors()).extracting(TaskFile.LineError::message).containsExactly(
                "option 'temperature' must be a number",
                "unknown option 'beam' (known: max_new_tokens, temperature, top_p, seed)",
                "attribute 'x' must be a string, number or boolean",
                "'image' must be a string, found NUMBER");
    }
}
