package dev.mgmstream.pipeline.kafka;

import java.util.List;

/** Existing topics whose settings the pipeline cannot work with; the message lists every problem. */
public class TopicMisconfiguredException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public TopicMisconfiguredException(List<String> problems) {
        super("Existing topics cannot be used as they are:\n  - " + String.join("\n  - ", problems)
                + "\nFix them with kafka-topics.sh / kafka-configs.sh (or delete them in a development cluster).");
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
