package dev.mgmstream.model.lm;

import dev.mgmstream.model.ModelManifest;
import java.util.List;
import java.util.Objects;

/**
 * The full prompt text for one task, as the manifest prescribes it: the chat template's user turn,
 * preceded by the BOS token's text when the tokenizer does not add BOS itself.
 *
 * <p>The template comes from {@code chat.template}. A manifest may also spell the format out in
 * {@code chat.prompt_format} (with {@code {prompt}}); then both must agree, so an export whose
 * training format differs from the named family fails at load instead of answering badly. The
 * template name {@code custom} uses {@code prompt_format} alone, for models outside the families.
 */
public final class ChatPrompt {

    public static final String CUSTOM = "custom";
    static final String PROMPT_SLOT = "{prompt}";

    private final ChatTemplate template;
    private final String customFormat;
    private final String bosText;
    private final String imageToken;
    private final List<String> stopStrings;

    private ChatPrompt(ChatTemplate template, String customFormat, String bosText, String imageToken,
                       List<String> stopStrings) {
        this.template = template;
        this.customFormat = customFormat;
        this.bosText = bosText;
        this.imageToken = imageToken;
        this.stopStrings = List.copyOf(stopStrings);
    }

    public static ChatPrompt fromManifest(ModelManifest manifest) {
        ModelManifest.Chat chat = manifest.chat();
        ModelManifest.TokenizerSpec tok = manifest.tokenizer();
        String imageToken = Objects.requireNonNull(tok.imageToken(), "tokenizer.image_token");
        String bos = tok.bosToken() != null && !tok.addBos() ? tok.bosToken() : "";
        String name = Objects.requireNonNull(chat.template(), "chat.template");
        String format = chat.promptFormat();
        if (name.trim().equalsIgnoreCase(CUSTOM)) {
            if (format == null || !format.contains(PROMPT_SLOT)) {
                throw new IllegalArgumentException("chat.template 'custom' needs a chat.prompt_format containing "
                        + PROMPT_SLOT + " in " + manifest.dir());
            }
            List<String> stops = chat.stopStrings() == null ? List.of() : chat.stopStrings();
            return new ChatPrompt(null, format, "", imageToken, stops);
        }
        ChatTemplate template = ChatTemplate.forName(name);
        List<String> stops = chat.stopStrings() == null || chat.stopStrings().isEmpty()
                ? template.defaultStopStrings() : chat.stopStrings();
        ChatPrompt prompt = new ChatPrompt(template, null, bos, imageToken, stops);
        if (format != null) {
            String rendered = bos + template.turn(imageToken + "\n" + PROMPT_SLOT);
            if (!rendered.equals(format)) {
                throw new IllegalArgumentException("chat.prompt_format of " + manifest.dir()
                        + " does not match template '" + name + "': manifest has " + quote(format)
                        + ", the template gives " + quote(rendered));
            }
        }
        return prompt;
    }

    /** The text to tokenise for a user prompt; the image placeholder appears exactly once. */
    public String render(String userPrompt) {
        if (template != null) {
            return bosText + template.render(userPrompt, imageToken);
        }
        return customFormat.replace(PROMPT_SLOT, userPrompt.replace(imageToken, "").strip());
    }

    /** The template, or empty for a custom format. */
    public java.util.Optional<ChatTemplate> template() {
        return java.util.Optional.ofNullable(template);
    }

    public String imageToken() {
        return imageToken;
    }

    /** Text at which an answer ends (besides stop tokens). */
    public List<String> stopStrings() {
        return stopStrings;
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
