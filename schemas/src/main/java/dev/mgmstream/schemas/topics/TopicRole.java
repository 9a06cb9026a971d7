package dev.mgmstream.schemas.topics;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import org.apache.avro.specific.SpecificRecord;

/** Every topic the pipeline uses, with the parts of its definition that no configuration may change. */
public enum TopicRole {
    IMAGE_TASKS("image-tasks", ImageTask.class, "task_id", false),
    VISUAL_TOKENS("visual-tokens", VisualTokens.class, "image_id", false),
    ANSWERS("answers", Answer.class, "task_id", false),
    GENERATION_REQUESTS("generation-requests", GenerationRequest.class, "task_id", false),
    GENERATED_IMAGES("generated-images", GeneratedImage.class, "task_id", false),
    DLQ_ENCODERS("dlq.encoders", Rejection.class, "original key", false),
    DLQ_REASONING("dlq.reasoning", Rejection.class, "original key", false),
    DLQ_GENERATION("dlq.generation", Rejection.class, "original key", false),
    DLQ_SINK("dlq.sink", Rejection.class, "original key", false),
    /** Latest visual tokens per image, so that an image seen before skips the encoders. */
    VISUAL_TOKEN_CACHE("visual-token-cache", VisualTokens.class, "image_id", true),
    /** Latest caption per image, written by the views stage for readers that want a caption by image. */
    CAPTIONS("captions", Caption.class, "image_id", true);

    private static final String DLQ_PREFIX = "dlq.";

    private final String baseName;
    private final Class<? extends SpecificRecord> valueType;
    private final String key;
    private final boolean compacted;

    TopicRole(String baseName, Class<? extends SpecificRecord> valueType, String key, boolean compacted) {
        this.baseName = baseName;
        this.valueType = valueType;
        this.key = key;
        this.compacted = compacted;
    }

    /** The name without the deployment's prefix, also used in per-topic configuration keys. */
    public String baseName() {
        return baseName;
    }

    public Class<? extends SpecificRecord> valueType() {
        return valueType;
    }

    /** What the (string) record key holds. */
    public String keyDescription() {
        return key;
    }

    /** A compacted topic (a cache, a view) keeps only the latest record per key. */
    public boolean compacted() {
        return compacted;
    }

    public boolean deadLetter() {
        return baseName.startsWith(DLQ_PREFIX);
    }

    /** The dead-letter topic of a stage (encoders, reasoning, generation, sink). */
    public static TopicRole deadLetterFor(String stage) {
        String wanted = DLQ_PREFIX + stage.toLowerCase(Locale.ROOT);
        return ofBaseName(wanted).orElseThrow(() -> new IllegalArgumentException(
                "No dead-letter topic for stage '" + stage + "'; stages with one: encoders, reasoning, generation, sink"));
    }

    public static Optional<TopicRole> ofBaseName(String baseName) {
        return Arrays.stream(values()).filter(r -> r.baseName.equals(baseName)).findFirst();
    }

    /**
     * The base name as it may appear in a configuration key: as is, or with '-' written '.', because an
     * environment variable ({@code MGM_TOPICS_IMAGE_TASKS_PARTITIONS}) cannot hold a '-'.
     */
    String dottedBaseName() {
        return baseName.replace('-', '.');
    }

    static Optional<TopicRole> ofConfigName(String name) {
        return Arrays.stream(values())
                .filter(r -> r.baseName.equals(name) || r.dottedBaseName().equals(name))
                .findFirst();
    }
}
