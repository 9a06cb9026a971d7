package dev.mgmstream.model.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.model.ModelManifest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Each template against the string its model family was trained on, written out by hand from the
 * published sources (Mini-Gemini's mgm/conversation.py, the vendors' chat formats), not from our code.
 */
class ChatTemplateTest {

    static final String Q = "What is in the picture?";

    @Test
    void gemmaAsMiniGeminiGemma() {
        // conv_gemma: "<start_of_turn>user\n" + msg + "<end_of_turn>\n" then "<start_of_turn>model\n"; Gemma's tokenizer adds <bos>.
        assertThat(ChatTemplate.GEMMA.render(Q, "<image>"))
                .isEqualTo("<start_of_turn>user\n<image>\nWhat is in the picture?<end_of_turn>\n<start_of_turn>model\n");
    }

    @Test
    void vicunaV1AsLlava() {
        assertThat(ChatTemplate.VICUNA_V1.render(Q, "<image>")).isEqualTo(
                "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful,"
                        + " detailed, and polite answers to the user's questions. USER: <image>\nWhat is in the picture?"
                        + " ASSISTANT:");
    }

    @Test
    void mistralInstruct() {
        // conv_mistral_instruct (LLAMA_2 style, no system): "[INST] msg [/INST]", <s> from the tokenizer.
        assertThat(ChatTemplate.MISTRAL_INSTRUCT.render(Q, "<image>"))
                .isEqualTo("[INST] <image>\nWhat is in the picture? [/INST]");
    }

    @Test
    void chatMlAsNousHermes2Yi() {
        assertThat(ChatTemplate.CHATML.render(Q, "<image>")).isEqualTo(
                "<|im_start|>system\nAnswer the questions.<|im_end|>\n<|im_start|>user\n<image>\nWhat is in the picture?"
                        + "<|im_end|>\n<|im_start|>assistant\n");
        // Mini-Gemini-34B's training format (conv_chatml_direct) has no newline after <|im_end|>.
        assertThat(ChatTemplate.CHATML_DIRECT.render(Q, "<image>")).isEqualTo(
                "<|im_start|>system\nAnswer the questions.<|im_end|><|im_start|>user\n<image>\nWhat is in the picture?"
                        + "<|im_end|><|im_start|>assistant\n");
    }

    @Test
    void llama3() {
        assertThat(ChatTemplate.LLAMA_3.render(Q, "<image>")).isEqualTo(
                "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision assistant. You are"
                        + " able to understand the visual content that the user provides, and assist the user with a"
                        + " variety of tasks using natural language.<|eot_id|><|start_header_id|>user<|end_header_id|>"
                        + "\n\n<image>\nWhat is in the picture?<|eot_id|><|start_header_id|>system<|end_header_id|>\n\n");
    }

    @Test
    void imagePlaceholderTypedByTheUserIsMovedToTheFront() {
        assertThat(ChatTemplate.GEMMA.render("  <image> Describe it. ", "<image>"))
                .isEqualTo("<start_of_turn>user\n<image>\nDescribe it.<end_of_turn>\n<start_of_turn>model\n");
    }

    @Test
    void templatesAreChosenByManifestName() {
        assertThat(ChatTemplate.forName("gemma")).isEqualTo(ChatTemplate.GEMMA);
        assertThat(ChatTemplate.forName("Vicuna_V1")).isEqualTo(ChatTemplate.VICUNA_V1);
        assertThat(ChatTemplate.forName("llama_3")).isEqualTo(ChatTemplate.LLAMA_3);
        assertThatThrownBy(() -> ChatTemplate.forName("alpaca"))
                .hasMessageContaining("alpaca").hasMessageContaining("chatml_direct");
    }

    @Test
    void mgmTinyManifestAgreesWithTheGemmaTemplate() {
        ModelManifest m = ModelManifest.load(GoldenTasks.modelDir());
        ChatPrompt p = ChatPrompt.fromManifest(m);
        assertThat(p.template()).contains(ChatTemplate.GEMMA);
        assertThat(p.render("Describe the image."))
                .isEqualTo(m.chat().promptFormat().replace("{prompt}", "Describe the image."));
    }

    @Test
    void manifestWhosePromptFormatContradictsItsTemplateIsRefused() {
        ModelManifest m = ModelManifest.load(GoldenTasks.modelDir());
        ModelManifest.Chat c = m.chat();
        ModelManifest wrong = withChat(m, new ModelManifest.Chat("vicuna_v1", c.promptFormat(), c.stopTokens(),
                c.stopStrings(), c.generationTags(), c.defaultPrompts()));
        assertThatThrownBy(() -> ChatPrompt.fromManifest(wrong)).hasMessageContaining("does not match template 'vicuna_v1'");
    }

    @Test
    void customTemplateUsesThePromptFormat() {
        ModelManifest m = ModelManifest.load(GoldenTasks.modelDir());
        ModelManifest custom = withChat(m, new ModelManifest.Chat("custom", "Q: <image>\n{prompt}\nA:", List.of(),
                List.of("\nQ:"), List.of("<h>", "</h>"), Map.of()));
        ChatPrompt p = ChatPrompt.fromManifest(custom);
        assertThat(p.template()).isEmpty();
        assertThat(p.render("Why?")).isEqualTo("Q: <image>\nWhy?\nA:");
        assertThat(p.stopStrings()).containsExactly("\nQ:");
    }

    static ModelManifest withChat(ModelManifest m, ModelManifest.Chat chat) {
        return new ModelManifest(m.dir(), m.format(), m.modelId(), m.family(), m.vision(), m.languageModel(),
                m.tokenizer(), chat, m.generationDefaults());
    }

}
