package dev.mgmstream.model.lm;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The conversation formats of the language models Mini-Gemini was released with, named as the
 * manifest's {@code chat.template} names them. Each renders one user turn holding the image and the
 * prompt, up to where the assistant's answer begins; the BOS token is not part of it (see
 * {@link ChatPrompt}), because whether the text or the tokenizer supplies it differs between exports.
 *
 * <p>The strings follow Mini-Gemini's own {@code mgm/conversation.py} ({@code conv_gemma},
 * {@code conv_vicuna_v1}, {@code conv_mistral_instruct}, {@code conv_chatml_direct}), which the released
 * checkpoints were trained with, and the model vendors' published chat formats where MGM has none or
 * deviates: {@link #CHATML} is the ChatML of Nous-Hermes-2-Yi-34B's tokenizer config (newline after each
 * {@code <|im_end|>}). {@link #LLAMA_3} is MGM's {@code conv_llama_3} as released, whose reply header says
 * {@code system} where Meta's format says {@code assistant}: MGM-8B was trained and evaluated with it.
 */
public enum ChatTemplate {

    /** {@code <start_of_turn>user\n<image>\n{prompt}<end_of_turn>\n<start_of_turn>model\n}. */
    GEMMA("gemma", List.of("<end_of_turn>")) {
        @Override
        String turn(String content) {
            return "<start_of_turn>user\n" + content + "<end_of_turn>\n<start_of_turn>model\n";
        }
    },

    /** LLaVA/Vicuna v1: system sentence, {@code USER: ... ASSISTANT:}. */
    VICUNA_V1("vicuna_v1", List.of("</s>")) {
        @Override
        String turn(String content) {
            return VICUNA_SYSTEM + " USER: " + content + " ASSISTANT:";
        }
    },

    /** Mistral instruct: {@code [INST] ... [/INST]}; the tokenizer's {@code <s>} comes first. */
    MISTRAL_INSTRUCT("mistral_instruct", List.of("</s>")) {
        @Override
        String turn(String content) {
            return "[INST] " + content + " [/INST]";
        }
    },

    /** ChatML as Nous-Hermes-2-Yi-34B's tokenizer config writes it, with MGM's system prompt. */
    CHATML("chatml", List.of("<|im_end|>")) {
        @Override
        String turn(String content) {
            return "<|im_start|>system\n" + CHATML_SYSTEM + "<|im_end|>\n<|im_start|>user\n" + content
                    + "<|im_end|>\n<|im_start|>assistant\n";
        }
    },

    /** MGM's {@code conv_chatml_direct}, which MGM-34B was trained with: ChatML without the newlines. */
    CHATML_DIRECT("chatml_direct", List.of("<|im_end|>")) {
        @Override
        String turn(String content) {
            return "<|im_start|>system\n" + CHATML_SYSTEM + "<|im_end|><|im_start|>user\n" + content
                    + "<|im_end|><|im_start|>assistant\n";
        }
    },

    /** Llama-3 headers with MGM's vision-assistant system prompt; the reply comes under MGM's {@code system} header. */
    LLAMA_3("llama_3", List.of("<|eot_id|>")) {
        @Override
        String turn(String content) {
            return "<|start_header_id|>system<|end_header_id|>\n\n" + LLAMA_3_SYSTEM + "<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\n" + content + "<|eot_id|>"
                    + "<|start_header_id|>system<|end_header_id|>\n\n";
        }
    };

    static final String VICUNA_SYSTEM = "A chat between a curious user and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the user's questions.";
    static final String CHATML_SYSTEM = "Answer the questions.";
    static final String LLAMA_3_SYSTEM = "You are a helpful language and vision assistant. "
            + "You are able to understand the visual content that the user provides, "
            + "and assist the user with a variety of tasks using natural language.";

    private final String manifestName;
    private final List<String> stopStrings;

    ChatTemplate(String manifestName, List<String> stopStrings) {
        this.manifestName = manifestName;
        this.stopStrings = stopStrings;
    }

    /** The name in {@code model.json}'s {@code chat.template}. */
    public String manifestName() {
        return manifestName;
    }

    /** Where the family's answers end, used when a manifest names no stop strings. */
    public List<String> defaultStopStrings() {
        return stopStrings;
    }

    /**
     * One user turn with the image placeholder and the prompt, then the assistant's header. As in
     * MGM, any image placeholder the user typed is removed and the prompt trimmed, so the image
     * stands exactly once, first, on a line of its own.
     */
    public String render(String prompt, String imageToken) {
        String clean = prompt.replace(imageToken, "").strip();
        return turn(imageToken + "\n" + clean);
    }

    abstract String turn(String content);

    public static ChatTemplate forName(String name) {
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        return Arrays.stream(values())
                .filter(t -> t.manifestName.equals(wanted))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("Unknown chat template '" + name + "'; known: "
                        + Arrays.stream(values()).map(ChatTemplate::manifestName).collect(Collectors.joining(", "))));
    }
}
