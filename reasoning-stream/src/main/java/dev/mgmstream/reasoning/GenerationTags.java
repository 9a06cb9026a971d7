package dev.mgmstream.reasoning;

import dev.mgmstream.model.ModelManifest;
import java.util.List;
import java.util.Optional;

/**
 * The generation prompt inside a generate task's answer: Mini-Gemini writes the prompt for the image
 * generator between {@code <h>} and {@code </h>} (the manifest's {@code generation_tags}). By default
 * ({@code chat.generation_prompt = "whole"}, mgm-tiny) accepted exactly when the reference does
 * ({@code models/mgm/io.py}): the trimmed answer is one opening tag, a non-blank prompt without tags, one
 * closing tag. The released checkpoints ({@code "last"}) may write text around it; the last tagged prompt is
 * taken, as the official code takes it. Anything else is a failure with its reason, never a silent drop.
 */
final class GenerationTags {

    private final String open;
    private final String close;
    private final boolean lastAmongText;

    /** The tags and the way of finding the prompt that the manifest's chat section names. */
    static GenerationTags of(ModelManifest.Chat chat) {
        String mode = chat.generationPrompt() == null ? "whole" : chat.generationPrompt();
        return switch (mode) {
            case "whole" -> new GenerationTags(chat.generationTags(), false);
            case "last" -> new GenerationTags(chat.generationTags(), true);
            default -> throw new IllegalArgumentException("chat.generation_prompt must be 'whole' or 'last', was '"
                    + mode + "'");
        };
    }

    GenerationTags(List<String> tags) {
        this(tags, false);
    }

    GenerationTags(List<String> tags, boolean lastAmongText) {
        this.lastAmongText = lastAmongText;
        if (tags == null || tags.size() != 2 || tags.get(0).isEmpty() || tags.get(1).isEmpty()) {
            throw new IllegalArgumentException("chat.generation_tags must be two non-empty strings, was " + tags);
        }
        this.open = tags.get(0);
        this.close = tags.get(1);
    }

    /** The prompt, or the reason there is none. */
    record Result(Optional<String> prompt, String problem) {}

    Result extract(String answer) {
        String a = answer.strip();
        if (!a.contains(open)) {
            return failed("the answer has no " + open + " tag");
        }
        if (!a.contains(close)) {
            return failed("the answer opens " + open + " but never closes it with " + close);
        }
        if (lastAmongText) {
            // as the official code: the text before the last closing tag and after the closing tag before it,
            // from its last opening tag on (the whole of it when it has none); not trimmed
            int end = a.lastIndexOf(close);
            int from = a.lastIndexOf(close, end - 1);
            String segment = a.substring(from < 0 ? 0 : from + close.length(), end);
            int start = segment.lastIndexOf(open);
            String inner = start < 0 ? segment : segment.substring(start + open.length());
            return inner.isBlank() ? failed("the generation prompt between " + open + " and " + close + " is empty")
                    : new Result(Optional.of(inner), null);
        }
        if (!a.startsWith(open) || !a.endsWith(close)) {
            return failed("the answer has text outside " + open + "..." + close);
        }
        String inner = a.substring(open.length(), a.length() - close.length());
        if (inner.contains(open) || inner.contains(close)) {
            return failed("the answer has more than one " + open + "..." + close + " pair, or nested tags");
        }
        if (inner.isBlank()) {
            return failed("the generation prompt between " + open + " and " + close + " is empty");
        }
        return new Result(Optional.of(inner), null);
    }

    private static Result failed(String why) {
        return new Result(Optional.empty(), why);
    }
}
