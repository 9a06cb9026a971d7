package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import dev.mgmstream.ingest.TaskResult;
import org.junit.jupiter.api.Test;

class ProgressTest {

    @Test
    void noTimeLeftIsPromisedFromTheFirstResultAlone() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress progress = new Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
        progress.published(62, 62);
        progress.result(new TaskResult("t1", null, null, null, null, TaskResult.OK, "yes", null, null, null, 5L, "stop"),
                1, 62);
        progress.finish();
        String shown = bytes.toString(StandardCharsets.UTF_8);
        assertThat(shown).contains("1/62 results").contains("ETA ...").doesNotContainPattern("ETA \\d");
    }
}
