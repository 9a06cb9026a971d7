package dev.mgmstream.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** DJL's HuggingFaceTokenizer loads mgm-tiny's tokenizer.json and agrees with the Python tokenizer. */
class TokenizerLoadTest {

    @Test
    void encodesAndDecodesLikeTheTrainingTokenizer() throws Exception {
        Path dir = Golden.modelDir("mgm-tiny");
        ModelManifest manifest = ModelManifest.load(dir);
        Golden golden = new Golden(dir);
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(
                manifest.file(manifest.tokenizer().file()), Map.of("addSpecialTokens", "false"))) {
            long imageId = tok.encode(manifest.tokenizer().imageToken()).getIds()[0];
            int checked = 0;
            for (JsonNode scene : golden.scenes()) {
                for (JsonNode task : scene.get("tasks")) {
                    Encoding enc = tok.encode(task.get("chat_text").asText());
                    assertThat(expandImage(enc.getIds(), imageId, manifest.vision().imageTokenCount()))
                            .containsExactly(Golden.longs(task.get("prompt_ids")));
                    String answer = tok.decode(Golden.longs(task.get("greedy_ids")), true);
                    assertThat(answer).isEqualTo(task.get("greedy_answer").asText());
                    checked++;
                }
            }
            assertThat(checked).isGreaterThan(16);
            String gen = "<h>a small red circle at the top.</h>";
            assertThat(tok.decode(tok.encode(gen).getIds(), true)).isEqualTo(gen);
        }
    }

    private static long[] expandImage(long[] ids, long imageId, int n) {
        List<Long> out = new ArrayList<>();
        for (long id : ids) {
            for (int i = 0; i < (id == imageId ? n : 1); i++) {
                out.add(id);
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }
}
