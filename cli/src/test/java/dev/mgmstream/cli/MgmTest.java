package dev.mgmstream.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The command line itself: help, usage errors, exit codes of what fails before any pipeline starts. */
class MgmTest {

    /** Runs mgm in-process and returns {exit code, stdout, stderr}. */
    static Object[] mgm(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Mgm.execute(args);
            return new Object[] {code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"demo", "run", "kafka", "stage", "publish", "results", "topics"})
    void everyCommandExplainsItselfWithAnExample(String command) {
        Object[] r = mgm(command, "--help");
        assertThat(r[0]).isEqualTo(0);
        assertThat((String) r[1]).contains("Usage: mgm " + command).contains("Example").contains("./mgm " + command);
    }

    @Test
    void runsHelpStatesEveryExitCode() {
        assertThat((String) mgm("run", "--help")[1]).contains("0 every task has its result").contains("1 some have none")
                .contains("2 every task").contains("3 the run could not start").contains("64 the command line did not parse");
    }

    @Test
    void theStageHelpListsTheViewsKeys() {
        String help = (String) mgm("stage", "--help")[1];
        for (dev.mgmstream.pipeline.config.ConfigKey key : dev.mgmstream.views.ViewsConfig.KEYS) {
            assertThat(help).contains(key.name()).contains(key.envName());
        }
        assertThat(help).contains("./mgm stage views");
    }

    @Test
    void theTopLevelHelpListsTheCommands() {
        Object[] r = mgm("--help");
        assertThat((String) r[1]).contains("demo", "run", "kafka", "stage", "publish", "results", "./mgm demo");
    }

    @Test
    void runNeedsEitherEmbeddedOrBrokers() {
        Object[] neither = mgm("run", "--input", "x.jsonl", "--output", "y.jsonl");
        assertThat(neither[0]).isEqualTo(Mgm.USAGE);
        assertThat((String) neither[2]).contains("--embedded", "--bootstrap-servers");
        Object[] both = mgm("run", "--embedded", "--bootstrap-servers", "h:1", "--input", "x", "--output", "y");
        assertThat(both[0]).isEqualTo(Mgm.USAGE);
        assertThat((String) both[2]).contains("mutually exclusive");
    }

    @Test
    void serveNeedsEmbeddedAndTheDemoNeverWaitsWithoutATerminal() {
        Object[] r = mgm("run", "--serve", "--bootstrap-servers", "h:1", "--input", "x.jsonl", "--output", "y.jsonl");
        assertThat(r[0]).isEqualTo(64);
        assertThat((String) r[2]).contains("--serve needs --embedded");
        DemoCommand demo = new DemoCommand();
        // a test, like CI or a pipe, has no console: the demo ends with its run unless told to serve
        assertThat(demo.serving()).isFalse();
        demo.serve = true;
        assertThat(demo.serving()).isTrue();
        assertThat((String) mgm("demo", "--help")[1]).contains("--[no-]serve").contains("http://localhost:7070/");
    }

    @Test
    void aMissingTaskFileIsNamed() {
        Object[] r = mgm("run", "--embedded", "--input", "no/such/tasks.jsonl", "--output", "y.jsonl");
        assertThat(r[0]).isEqualTo(3);
        assertThat((String) r[2]).contains("no task file").contains("no/such/tasks.jsonl");
    }

    @Test
    void theGenerationStageNamesTheMissingGenerator() {
        Object[] r = mgm("stage", "generation", "--bootstrap-servers", "localhost:1",
                "--set", "generation.model.dir=/no/such/generator");
        assertThat((int) r[0]).isEqualTo(2);
        assertThat((String) r[2]).contains("no generator at /no/such/generator");
    }

    @Test
    void durationsAsPeopleWriteThem() {
        Keys.DurationConverter c = new Keys.DurationConverter();
        assertThat(c.convert("90s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(c.convert("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.convert("2h")).isEqualTo(Duration.ofHours(2));
        assertThat(c.convert("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(c.convert("45")).isEqualTo(Duration.ofSeconds(45));
        assertThat(c.convert("PT1M30S")).isEqualTo(Duration.ofSeconds(90));
        assertThatThrownBy(() -> c.convert("soon")).hasMessageContaining("not a duration");
    }

    @Test
    void theDemoTableWrapsLongAnswersAtSpaces() {
        assertThat(DemoCommand.wrap("a large red circle at the top left and a sign", 20))
                .containsExactly("a large red circle", "at the top left and", "a sign");
        assertThat(DemoCommand.wrap("x".repeat(25), 10)).containsExactly("xxxxxxxxxx", "xxxxxxxxxx", "xxxxx");
        assertThat(DemoCommand.wrap("", 10)).isEqualTo(List.of(""));
    }

    @Test
    void progressShowsRateAndTimeLeft() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = new Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
        p.result(dev.mgmstream.ingest.TaskResult.refused("a", null, "x"), 1, 4);
        p.finish();
        assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("progress: 1/4 results").contains("/s")
                .contains("ETA").contains("rejected=1");
        assertThat(Progress.duration(3725)).isEqualTo("1:02:05");
        assertThat(Progress.duration(75)).isEqualTo("1:15");
    }
}
