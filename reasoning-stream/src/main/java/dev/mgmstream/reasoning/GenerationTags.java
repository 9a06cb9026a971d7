package dev.mgmstream.reasoning;

import java.util.List;
import java.util.Optional;

/**
 * The generation prompt inside a generate task's answer: Mini-Gemini writes the prompt for the image
 * generator between {@code <h>} and {@code </h>} (the manifest's {@code generation_tags}). Accepted exactly
 * when the reference does ({@code models/mgm/io.py}): the trimmed answer is one opening tag, a non-blank
 * prompt without tags, one closing tag. Anything else is a failure with its reason, never a silent drop.
 */
final class GenerationTags {

    private final String open;
    private final String close;

    GenerationTags(List<String> tags) {
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
