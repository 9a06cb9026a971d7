package dev.mgmstream.views;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.ImageAnswer;
import dev.mgmstream.schemas.avro.ImageReport;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskStatus;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The views' one topology, built here for the stage and for the tests alike.
 *
 * <pre>
 * image-tasks ─────────┐
 * visual-tokens ───────┤ (one partial TaskStatus per task) ──▶ repartition by task id ──▶ task-status store
 * answers ──┬──────────┤
 * generated-images ────┤
 * dlq.* ───────────────┘
 *           └─▶ ImageAnswer ──▶ repartition by image id ─┬─▶ image-reports store
 *                                                       └─▶ captions store ──▶ captions topic
 * </pre>
 *
 * Every input is mapped to a small record before it is repartitioned, so an inline image or a token
 * tensor never travels through the internal topics; and everything keyed by task id is repartitioned
 * once, together, so the status of a task lives on one partition whatever the input topics' partition
 * counts are.
 */
public final class ViewsTopology {

    /** Task id to {@link TaskStatus}. */
    public static final String TASKS_STORE = "task-status";
    /** Image id to {@link ImageReport}. */
    public static final String REPORTS_STORE = "image-reports";
    /** Image id to its latest {@link Caption}, as written to the captions topic. */
    public static final String CAPTIONS_STORE = "captions";

    private static final Logger log = LoggerFactory.getLogger(ViewsTopology.class);

    private ViewsTopology() {
    }

    static Topology build(TopicCatalogue topics, ViewsSerdes s, int maxAnswers) {
        StreamsBuilder b = new StreamsBuilder();
        Serde<String> keys = Serdes.String();
        String tokensTopic = topics.name(TopicRole.VISUAL_TOKENS);

        KStream<String, TaskStatus> published = b.stream(topics.name(TopicRole.IMAGE_TASKS),
                        Consumed.with(keys, s.tasks()).withName("read-image-tasks"))
                .process(extract((key, t, at, headers) -> List.of(KeyValue.pair(t.getTaskId(), TaskEvents.published(t, at)))),
                        Named.as("published"));
        // Read as bytes: the tasks are in the mgm.task-ids header, and the tensor need not be decoded for them.
        KStream<String, TaskStatus> encoded = b.stream(tokensTopic,
                        Consumed.with(keys, Serdes.ByteArray()).withName("read-visual-tokens"))
                .process(extract((imageId, bytes, at, headers) -> encoded(tokensTopic, imageId, bytes, at, headers,
                        s.tokens())), Named.as("encoded"));
        KStream<String, Answer> answers = b.stream(topics.name(TopicRole.ANSWERS),
                Consumed.with(keys, s.answers()).withName("read-answers"));
        KStream<String, TaskStatus> answered = answers
                .process(extract((key, a, at, headers) -> List.of(KeyValue.pair(a.getTaskId(), TaskEvents.answered(a, at)))),
                        Named.as("answered"));
        KStream<String, TaskStatus> generated = b.stream(topics.name(TopicRole.GENERATED_IMAGES),
                        Consumed.with(keys, s.generated()).withName("read-generated-images"))
                .process(extract((key, g, at, headers) -> List.of(KeyValue.pair(g.getTaskId(), TaskEvents.generated(g, at)))),
                        Named.as("generated"));
        List<String> deadLetterTopics = topics.all().stream().filter(t -> t.role().deadLetter()).map(TopicSpec::name)
                .toList();
        KStream<String, TaskStatus> deadLettered = b.stream(deadLetterTopics,
                        Consumed.with(keys, s.rejections()).withName("read-dead-letters"))
                .process(extract((key, r, at, headers) -> deadLettered(tokensTopic, key, r, at, s.tokens())),
                        Named.as("dead-lettered"));

        published.merge(encoded, Named.as("merge-encoded"))
                .merge(answered, Named.as("merge-answered"))
                .merge(generated, Named.as("merge-generated"))
                .merge(deadLettered, Named.as("merge-dead-lettered"))
                .groupByKey(Grouped.with("task-status", keys, s.status()))
                .reduce(TaskEvents::merge, Named.as("merge-task-status"),
                        Materialized.<String, TaskStatus, KeyValueStore<Bytes, byte[]>>as(TASKS_STORE)
                                .withKeySerde(keys).withValueSerde(s.status()));

        KStream<String, ImageAnswer> byImage = answers
                .process(extract((key, a, at, headers) -> {
                    ImageAnswer answer = ImageReports.of(a, at);
                    return answer == null ? List.of() : List.of(KeyValue.pair(answer.getImageId(), answer));
                }), Named.as("image-answers"))
                .repartition(Repartitioned.<String, ImageAnswer>as("answers-by-image")
                        .withKeySerde(keys).withValueSerde(s.imageAnswers()));
        byImage.groupByKey(Grouped.with("image-reports", keys, s.imageAnswers()))
                .aggregate(() -> null, (image, answer, report) -> ImageReports.add(report, answer, maxAnswers),
                        Named.as("gather-image-report"),
                        Materialized.<String, ImageReport, KeyValueStore<Bytes, byte[]>>as(REPORTS_STORE)
                                .withKeySerde(keys).withValueSerde(s.reports()));
        byImage.filter((image, answer) -> ImageReports.isCaption(answer), Named.as("captions-only"))
                .mapValues(ImageReports::caption, Named.as("to-caption"))
                .groupByKey(Grouped.with("captions", keys, s.captionStore()))
                .reduce(ImageReports::later, Named.as("latest-caption"),
                        Materialized.<String, Caption, KeyValueStore<Bytes, byte[]>>as(CAPTIONS_STORE)
                                .withKeySerde(keys).withValueSerde(s.captionStore()))
                .toStream(Named.as("caption-changes"))
                .to(topics.name(TopicRole.CAPTIONS), Produced.with(keys, s.captions()).withName("write-captions"));
        return b.build();
    }

    /** The tasks of a visual-tokens record: named in its header, or else in its value. */
    static List<KeyValue<String, TaskStatus>> encoded(String topic, String imageId, byte[] value, long at,
                                                     Headers headers, Deserializer<VisualTokens> tokens) {
        Header header = headers.lastHeader(TaskIdsHeader.NAME);
        List<String> ids = header == null || header.value() == null ? List.of()
                : TaskIdsHeader.decode(new String(header.value(), StandardCharsets.UTF_8));
        if (!ids.isEmpty()) {
            return ids.stream().map(id -> KeyValue.pair(id, TaskEvents.encoded(id, imageId, at))).toList();
        }
        VisualTokens v = decode(tokens, topic, value);
        if (v == null) {
            return List.of();
        }
        return v.getTasks().stream()
                .map(t -> KeyValue.pair(t.getTaskId(), TaskEvents.encoded(t, v.getImageId(), at))).toList();
    }

    /**
     * The tasks of a dead letter: the one its Rejection names, or its key where the input was keyed by task id;
     * a rejected visual-tokens record (keyed by image) carries its tasks in the original value it keeps. One
     * whose value does not decode names nobody here; its tasks still end, rejected, through answers.
     */
    static List<KeyValue<String, TaskStatus>> deadLettered(String tokensTopic, String key, Rejection r, long at,
                                                          Deserializer<VisualTokens> tokens) {
        if (r.getTaskId() != null && !r.getTaskId().isBlank()) {
            return List.of(KeyValue.pair(r.getTaskId(), TaskEvents.deadLettered(r.getTaskId(), r, at)));
        }
        if (!tokensTopic.equals(r.getSourceTopic())) {
            return key == null ? List.of() : List.of(KeyValue.pair(key, TaskEvents.deadLettered(key, r, at)));
        }
        VisualTokens v = r.getValue() == null ? null : decode(tokens, tokensTopic, bytes(r.getValue()));
        if (v == null) {
            return List.of();
        }
        return v.getTasks().stream()
                .map(t -> KeyValue.pair(t.getTaskId(), TaskEvents.deadLettered(t.getTaskId(), r, at))).toList();
    }

    private static VisualTokens decode(Deserializer<VisualTokens> tokens, String topic, byte[] value) {
        if (value == null) {
            return null;
        }
        try {
            return tokens.deserialize(topic, value);
        } catch (RuntimeException e) {
            log.warn("A visual-tokens record without a {} header does not decode ({}); its tasks stay as they were",
                    TaskIdsHeader.NAME, e.toString());
            return null;
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** What one input record says, as records keyed for the view they feed. */
    @FunctionalInterface
    interface Extract<V, VOut> {
        List<KeyValue<String, VOut>> apply(String key, V value, long timestamp, Headers headers);
    }

    /**
     * A processor that forwards what {@code f} makes of each record, at the record's own timestamp (the time
     * the views show) and without its headers, which the views have read and the internal topics need not carry.
     */
    private static <V, VOut> ProcessorSupplier<String, V, String, VOut> extract(Extract<V, VOut> f) {
        return () -> new ContextualProcessor<>() {
            @Override
            public void process(Record<String, V> r) {
                if (r.value() == null) {
                    return;
                }
                for (KeyValue<String, VOut> kv : f.apply(r.key(), r.value(), r.timestamp(), r.headers())) {
                    if (kv.key != null && kv.value != null) {
                        context().forward(r.withKey(kv.key).withValue(kv.value).withHeaders(new RecordHeaders()));
                    }
                }
            }
        };
    }
}
