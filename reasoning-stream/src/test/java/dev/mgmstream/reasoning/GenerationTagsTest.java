package dev.mgmstream.reasoning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Exactly the answers the Python reference accepts (models/mgm/io.py generation_prompt) give a prompt. */
class GenerationTagsTest {

    final GenerationTags tags = new GenerationTags(List.of("<h>", "</h>"));

    @Test
    void wellFormedAnswersGiveTheTextBetweenTheTags() {
        assertThat(tags.extract("<h>a small red circle at the top.</h>").prompt())
                .contains("a small red circle at the top.");
        // Surrounding whitespace is trimmed first, the prompt itself is kept as written.
        assertThat(tags.extract("  <h> a red square </h>\n").prompt()).contains(" a red square ");
    }

    @Test
    void everyMalformedAnswerSaysWhy() {
        assertThat(tags.extract("a small red circle").problem()).contains("no <h> tag");
        assertThat(tags.extract("<h>a small red circle").problem()).contains("never closes it with </h>");
        assertThat(tags.extract("sure: <h>a circle</h>").problem()).contains("text outside");
        assertThat(tags.extract("<h>a circle</h> done").problem()).contains("text outside");
        assertThat(tags.extract("<h>a</h><h>b</h>").problem()).contains("more than one");
        assertThat(tags.extract("<h><h>a</h>").problem()).contains("more than one");
        assertThat(tags.extract("<h>  </h>").problem()).contains("empty");
        assertThat(tags.extract("</h>a<h>").problem()).contains("text outside");
        assertThat(tags.extract("<h>a circle</h>").problem()).isNull();
    }

    @Test
    void tagsComeFromTheManifest() {
        assertThat(new GenerationTags(List.of("[img]", "[/img]")).extract("[img]x[/img]").prompt()).contains("x");
        assertThatThrownBy(() -> new GenerationTags(List.of("<h>"))).hasMessageContaining("generation_tags");
    }

    @Test
    void releasedCheckpointsMayTalkAroundThePromptAndTheLastTaggedOneCounts() {
        GenerationTags official = GenerationTags.of(new dev.mgmstream.model.ModelManifest.Chat("gemma", null,
                List.of(), List.of(), List.of("<h>", "</h>"), java.util.Map.of(), " <GEN>", "last", true));
        assertThat(official.extract("Sure! Here it is: <h>a red barn at dusk</h>").prompt()).contains("a red barn at dusk");
        assertThat(official.extract("<h>draft</h> better: <h>a calm lake</h> enjoy").prompt()).contains("a calm lake");
        assertThat(official.extract("no tags at all").problem()).contains("no <h>");
        assertThat(official.extract("<h>a</h> then </h>").prompt()).contains(" then ");
        assertThat(official.extract("<h>  </h>").problem()).contains("empty");
        // mgm-tiny's manifests name no mode: the strict reading stays
        GenerationTags strict = GenerationTags.of(new dev.mgmstream.model.ModelManifest.Chat("gemma", null,
                List.of(), List.of(), List.of("<h>", "</h>"), java.util.Map.of()));
        assertThat(strict.extract("Sure! <h>a red barn</h>").problem()).contains("outside");
    }
}
