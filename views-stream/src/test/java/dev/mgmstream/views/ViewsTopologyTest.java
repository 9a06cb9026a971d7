package dev.mgmstream.views;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.ImageAnswer;
import dev.mgmstream.schemas.avro.ImageReport;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.TaskState;
import dev.mgmstream.schemas.avro.TaskStatus;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.serde.SerdeConfig;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The views' topology on {@link TopologyTestDriver}: a task's status whatever order its topics arrive in,
 * rejections and dead letters with their reasons, the latest caption per image, and every answer about an
 * image in its report.
 */
class ViewsTopologyTest {

    private static final TopicCatalogue TOPICS = TopicCatalogue.defaults();
    private static final String IMAGE = "ab".repeat(32);

    @TempDir
    Path state;

    private MemoryRegistry registry;
    private ViewsSerdes serdes;
    private TopologyTestDriver driver;
    private TestInputTopic<String, ImageTask> tasks;
    private TestInputTopic<String, byte[]> tokens;
    private TestInputTopic<String, Answer> answers;
    private TestInputTopic<String, GeneratedImage> generated;
    private TestOutputTopic<String, Caption> captions;
    private Serializer<VisualTokens> tokenSerializer;
    private Serializer<Rejection> rejectionSerializer;

    @BeforeEach
    void start() {
        registry = new MemoryRegistry();
        serdes = ViewsSerdes.of(registry, Map.of());
        Properties props = new ViewsConfig(Map.of(ViewsConfig.STATE_DIR.name(), state.toString()))
                .streamsProperties("localhost:7070");
        driver = new TopologyTestDriver(ViewsTopology.build(TOPICS, serdes, 3), props);
        StringSerializer keys = new StringSerializer();
        tasks = driver.createInputTopic(TOPICS.name(TopicRole.IMAGE_TASKS), keys, serdes.tasks().serializer());
        tokens = driver.createInputTopic(TOPICS.name(TopicRole.VISUAL_TOKENS), keys, new ByteArraySerializer());
        answers = driver.createInputTopic(TOPICS.name(TopicRole.ANSWERS), keys, serdes.answers().serializer());
        generated = driver.createInputTopic(TOPICS.name(TopicRole.GENERATED_IMAGES), keys,
                serdes.generated().serializer());
        captions = driver.createOutputTopic(TOPICS.name(TopicRole.CAPTIONS), new StringDeserializer(),
                serdes.captions().deserializer());
        tokenSerializer = AvroSerdes.valueSerde(VisualTokens.class, registry, SerdeConfig.defaults()).serializer();
        rejectionSerializer = serdes.rejections().serializer();
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    // ---------------------------------------------------------------- task status

    @Test
    void aGenerateTaskEndsAnsweredWithEveryFieldInEveryOrderItsFourTopicsCanDeliver() {
        List<List<Integer>> orders = permutations(List.of(0, 1, 2, 3));
        assertThat(orders).hasSize(24);
        for (int o = 0; o < orders.size(); o++) {
            String id = "gen-" + o;
            List<Consumer<Long>> steps = List.of(
                    at -> tasks.pipeInput(id, Records.task(id, TaskKind.GENERATE, "prompt of " + id), at),
                    at -> pipeTokens(IMAGE, at, true, Records.ref(id, TaskKind.GENERATE, "prompt of " + id)),
                    at -> generated.pipeInput(id, Records.generated(id, IMAGE), at),
                    at -> answers.pipeInput(id, Records.answer(id, IMAGE, TaskKind.GENERATE, AnswerStatus.OK,
                            "<h>a red circle</h>", null), at));
            // Each step's record carries the time it was written (1000, 2000, ...), whatever order it arrives in.
            for (int step : orders.get(o)) {
                steps.get(step).accept(1000L * (step + 1));
            }
            TaskStatus s = status(id);
            assertThat(s.getState()).as("order " + orders.get(o)).isEqualTo(TaskState.ANSWERED);
            assertThat(s.getKind()).isEqualTo(TaskKind.GENERATE);
            assertThat(s.getPrompt()).isEqualTo("prompt of " + id);
            assertThat(s.getImageId()).isEqualTo(IMAGE);
            assertThat(s.getImage()).isEqualTo("file:/scenes/" + id + ".png");
            assertThat(s.getAnswer()).isEqualTo("<h>a red circle</h>");
            assertThat(s.getGeneratedImage()).isEqualTo("file:/generated/" + id + ".png");
            assertThat(s.getModelId()).isEqualTo(Records.MODEL);
            assertThat(s.getTimes()).containsExactlyInAnyOrderEntriesOf(Map.of(TaskEvents.PUBLISHED, 1000L,
                    TaskEvents.ENCODED, 2000L, TaskEvents.GENERATED, 3000L, TaskEvents.ANSWERED, 4000L));
            assertThat(s.getUpdatedAt()).isEqualTo(Instant.ofEpochMilli(4000));
        }
    }

    @Test
    void aTaskNeverMovesBackWhenAnEarlierStepArrivesLate() {
        pipeTokens(IMAGE, 2000, true, Records.ref("t1", TaskKind.VQA, "What colour?"));
        assertThat(status("t1").getState()).isEqualTo(TaskState.ENCODED);
        tasks.pipeInput("t1", Records.task("t1", TaskKind.VQA, "What colour?"), 1000);
        assertThat(status("t1").getState()).isEqualTo(TaskState.ENCODED);
        assertThat(status("t1").getTimes()).containsOnlyKeys(TaskEvents.PUBLISHED, TaskEvents.ENCODED);

        tasks.pipeInput("t2", Records.task("t2", TaskKind.CAPTION, null), 1000);
        assertThat(status("t2").getState()).isEqualTo(TaskState.PUBLISHED);
        assertThat(status("t2").getImageId()).isNull();
    }

    @Test
    void rejectedAndFailedTasksKeepTheirReasons() {
        tasks.pipeInput("bad", Records.task("bad", TaskKind.VQA, "?"), 1000);
        answers.pipeInput("bad", Records.answer("bad", null, TaskKind.VQA, AnswerStatus.REJECTED, null,
                "image could not be decoded: not a PNG"), 2000);
        answers.pipeInput("slow", Records.answer("slow", IMAGE, TaskKind.CAPTION, AnswerStatus.FAILED, null,
                "the model timed out"), 2000);

        assertThat(status("bad").getState()).isEqualTo(TaskState.REJECTED);
        assertThat(status("bad").getReason()).isEqualTo("image could not be decoded: not a PNG");
        assertThat(status("bad").getKind()).isEqualTo(TaskKind.VQA);
        assertThat(status("bad").getImage()).as("from the task").isEqualTo("file:/scenes/bad.png");
        assertThat(status("slow").getState()).isEqualTo(TaskState.FAILED);
        assertThat(status("slow").getReason()).isEqualTo("the model timed out");
        // a rejection before its image was read names no image: no report, no caption
        assertThat(report(IMAGE).getAnswers()).extracting(ImageAnswer::getTaskId).containsExactly("slow");
        assertThat(captions.isEmpty()).isTrue();
    }

    @Test
    void deadLettersMarkTheirTasksWithTheStageAndTheReasonEvenWhenTheAnswerCameFirst() {
        String dlqEncoders = TOPICS.name(TopicRole.DLQ_ENCODERS);
        String dlqReasoning = TOPICS.name(TopicRole.DLQ_REASONING);
        String dlqSink = TOPICS.name(TopicRole.DLQ_SINK);
        TestInputTopic<String, Rejection> encoders = driver.createInputTopic(dlqEncoders, new StringSerializer(),
                rejectionSerializer);
        TestInputTopic<String, Rejection> reasoning = driver.createInputTopic(dlqReasoning, new StringSerializer(),
                rejectionSerializer);
        TestInputTopic<String, Rejection> sink = driver.createInputTopic(dlqSink, new StringSerializer(),
                rejectionSerializer);

        // encoders: keyed by task id, the Rejection names it
        encoders.pipeInput("e1", Records.rejection("encoders", TOPICS.name(TopicRole.IMAGE_TASKS), "e1", null,
                "image too large: 9000000 bytes"), 2000);
        assertThat(status("e1").getState()).isEqualTo(TaskState.DEAD_LETTERED);
        assertThat(status("e1").getDeadLetter()).isEqualTo("encoders: image too large: 9000000 bytes");

        // reasoning: keyed by image id; its tasks are in the visual-tokens value it keeps
        byte[] original = tokenSerializer.serialize(TOPICS.name(TopicRole.VISUAL_TOKENS), Records.tokens(IMAGE,
                Records.ref("r1", TaskKind.CAPTION, null), Records.ref("r2", TaskKind.VQA, "Is there a sign?")));
        answers.pipeInput("r1", Records.answer("r1", IMAGE, TaskKind.CAPTION, AnswerStatus.REJECTED, null,
                "visual tokens rejected: unknown encoder"), 3000);
        reasoning.pipeInput(IMAGE, Records.rejection("reasoning", TOPICS.name(TopicRole.VISUAL_TOKENS), null,
                original, "unknown encoder"), 2500);
        assertThat(status("r1").getState()).as("the answer outranks the dead letter").isEqualTo(TaskState.REJECTED);
        assertThat(status("r1").getReason()).isEqualTo("visual tokens rejected: unknown encoder");
        assertThat(status("r1").getDeadLetter()).isEqualTo("reasoning: unknown encoder");
        assertThat(status("r2").getState()).isEqualTo(TaskState.DEAD_LETTERED);
        assertThat(status("r2").getDeadLetter()).isEqualTo("reasoning: unknown encoder");

        // sink: an answer the lake refused is still answered; the dead letter says why it is not in the lake
        answers.pipeInput("s1", Records.answer("s1", IMAGE, TaskKind.VQA, AnswerStatus.OK, "yes", null), 4000);
        Rejection noMessage = Records.rejection("sink", TOPICS.name(TopicRole.ANSWERS), null, null, null);
        sink.pipeInput("s1", noMessage, 5000);
        assertThat(status("s1").getState()).isEqualTo(TaskState.ANSWERED);
        assertThat(status("s1").getDeadLetter()).isEqualTo("sink: IllegalArgumentException");

        // a dead letter that names no task and holds nothing readable changes nothing
        reasoning.pipeInput(IMAGE, Records.rejection("reasoning", TOPICS.name(TopicRole.VISUAL_TOKENS), null,
                "garbage".getBytes(StandardCharsets.UTF_8), "bad bytes"), 6000);
        assertThat(keys(ViewsTopology.TASKS_STORE)).containsExactlyInAnyOrder("e1", "r1", "r2", "s1");
    }

    @Test
    void visualTokensNameTheirTasksByHeaderOrElseByValueAndABadRecordIsSkipped() {
        pipeTokens(IMAGE, 1000, true, Records.ref("h1", TaskKind.VQA, "q"), Records.ref("h2", TaskKind.CAPTION, null));
        pipeTokens("cd".repeat(32), 1000, false, Records.ref("v1", TaskKind.VQA, "What shape?"));
        // neither a header nor a value that decodes: skipped, and the next record is read as usual
        tokens.pipeInput(new TestRecord<>("ef".repeat(32), "not avro".getBytes(StandardCharsets.UTF_8),
                new RecordHeaders(), 1500L));
        answers.pipeInput(new TestRecord<>("junk", null, new RecordHeaders(), 1600L));
        pipeTokens(IMAGE, 2000, true, Records.ref("h3", TaskKind.VQA, "q"));

        assertThat(status("h1").getState()).isEqualTo(TaskState.ENCODED);
        assertThat(status("h1").getImageId()).isEqualTo(IMAGE);
        assertThat(status("h2").getImageId()).isEqualTo(IMAGE);
        assertThat(status("v1").getImageId()).isEqualTo("cd".repeat(32));
        assertThat(status("v1").getPrompt()).as("read from the value").isEqualTo("What shape?");
        assertThat(status("h3").getState()).isEqualTo(TaskState.ENCODED);
    }

    // ---------------------------------------------------------------- captions and image reports

    @Test
    void theCaptionsTopicAndStoreKeepTheLatestCaptionOfEachImageWhateverOrderTheyArrive() {
        answers.pipeInput("c-new", Records.answer("c-new", IMAGE, TaskKind.CAPTION, AnswerStatus.OK,
                "a red circle and a sign", null), 5000);
        // written earlier, read later (another partition of answers)
        answers.pipeInput("c-old", Records.answer("c-old", IMAGE, TaskKind.CAPTION, AnswerStatus.OK,
                "a red circle", null), 3000);
        // neither a question nor a failed caption is a caption
        answers.pipeInput("q", Records.answer("q", IMAGE, TaskKind.VQA, AnswerStatus.OK, "yes", null), 6000);
        answers.pipeInput("c-failed", Records.answer("c-failed", IMAGE, TaskKind.CAPTION, AnswerStatus.FAILED,
                null, "timed out"), 7000);
        answers.pipeInput("other", Records.answer("other", "cd".repeat(32), TaskKind.CAPTION, AnswerStatus.OK,
                "a blue square", null), 4000);

        Map<String, Caption> latest = captions.readKeyValuesToMap();
        assertThat(latest).containsOnlyKeys(IMAGE, "cd".repeat(32));
        Caption c = latest.get(IMAGE);
        assertThat(c.getText()).isEqualTo("a red circle and a sign");
        assertThat(c.getTaskId()).isEqualTo("c-new");
        assertThat(c.getModelId()).isEqualTo(Records.MODEL);
        assertThat(c.getCaptionedAt()).isEqualTo(Instant.ofEpochMilli(5000));
        assertThat(latest.get("cd".repeat(32)).getText()).isEqualTo("a blue square");
        assertThat(this.<Caption>value(ViewsTopology.CAPTIONS_STORE, IMAGE)).isEqualTo(c);

        answers.pipeInput("c-newest", Records.answer("c-newest", IMAGE, TaskKind.CAPTION, AnswerStatus.OK,
                "a sign", null), 8000);
        List<KeyValue<String, Caption>> more = captions.readKeyValuesToList();
        assertThat(more.get(more.size() - 1).value.getTaskId()).isEqualTo("c-newest");
    }

    @Test
    void theReportGathersEveryAnswerAboutAnImageBoundedAndCounted() {
        answers.pipeInput("a1", Records.answer("a1", IMAGE, TaskKind.CAPTION, AnswerStatus.OK, "a circle", null), 1000);
        answers.pipeInput("a2", Records.answer("a2", IMAGE, TaskKind.VQA, AnswerStatus.OK, "red", null), 2000);
        answers.pipeInput("a3", Records.answer("a3", IMAGE, TaskKind.VQA, AnswerStatus.REJECTED, null, "empty prompt"),
                3000);
        // a replayed answer replaces its first copy rather than counting twice
        answers.pipeInput("a2", Records.answer("a2", IMAGE, TaskKind.VQA, AnswerStatus.OK, "red", null), 2500);

        ImageReport r = report(IMAGE);
        assertThat(r.getAnswers()).extracting(ImageAnswer::getTaskId).containsExactly("a1", "a2", "a3");
        assertThat(r.getAnswerCount()).isEqualTo(3);
        assertThat(r.getAnswers().get(2).getReason()).isEqualTo("empty prompt");
        assertThat(r.getUpdatedAt()).isEqualTo(Instant.ofEpochMilli(3000));

        // the topology keeps 3 (views.image.report.max.answers): the oldest goes, the count goes on
        answers.pipeInput("a4", Records.answer("a4", IMAGE, TaskKind.VQA, AnswerStatus.OK, "L24", null), 4000);
        r = report(IMAGE);
        assertThat(r.getAnswers()).extracting(ImageAnswer::getTaskId).containsExactly("a2", "a3", "a4");
        assertThat(r.getAnswerCount()).isEqualTo(4);
        assertThat(this.<ImageReport>value(ViewsTopology.REPORTS_STORE, "cd".repeat(32))).isNull();
    }

    @Test
    void theStoresAndTopicsAreTheOnesTheQueriesAndTheCatalogueName() {
        String description = ViewsTopology.build(TOPICS, serdes, 3).describe().toString();
        assertThat(description).contains(ViewsTopology.TASKS_STORE, ViewsTopology.REPORTS_STORE,
                ViewsTopology.CAPTIONS_STORE, "task-status-repartition", "answers-by-image-repartition");
        // one repartition per key the views group by, and no more: the captions and reports share theirs
        assertThat(description.split("-repartition\\)", -1).length - 1).as(description).isEqualTo(2);
        for (TopicRole role : List.of(TopicRole.IMAGE_TASKS, TopicRole.VISUAL_TOKENS, TopicRole.ANSWERS,
                TopicRole.GENERATED_IMAGES, TopicRole.DLQ_ENCODERS, TopicRole.DLQ_REASONING, TopicRole.DLQ_GENERATION,
                TopicRole.DLQ_SINK, TopicRole.CAPTIONS)) {
            assertThat(description).contains(TOPICS.name(role));
        }
    }

    // ---------------------------------------------------------------- helpers

    private void pipeTokens(String imageId, long at, boolean header, dev.mgmstream.schemas.avro.TaskRef... refs) {
        RecordHeaders headers = new RecordHeaders();
        if (header) {
            headers.add(TaskIdsHeader.NAME, TaskIdsHeader.encode(java.util.Arrays.stream(refs)
                    .map(dev.mgmstream.schemas.avro.TaskRef::getTaskId).toList()).getBytes(StandardCharsets.UTF_8));
        }
        byte[] value = tokenSerializer.serialize(TOPICS.name(TopicRole.VISUAL_TOKENS), Records.tokens(imageId, refs));
        tokens.pipeInput(new TestRecord<>(imageId, value, headers, at));
    }

    private TaskStatus status(String taskId) {
        TaskStatus s = this.<TaskStatus>value(ViewsTopology.TASKS_STORE, taskId);
        assertThat(s).as("status of " + taskId).isNotNull();
        return s;
    }

    private ImageReport report(String imageId) {
        ImageReport r = this.<ImageReport>value(ViewsTopology.REPORTS_STORE, imageId);
        assertThat(r).as("report of " + imageId).isNotNull();
        return r;
    }

    private <V> V value(String store, String key) {
        ValueAndTimestamp<V> v = driver.<String, V>getTimestampedKeyValueStore(store).get(key);
        return v == null ? null : v.value();
    }

    private List<String> keys(String store) {
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, ValueAndTimestamp<Object>> all =
                     driver.<String, Object>getTimestampedKeyValueStore(store).all()) {
            all.forEachRemaining(kv -> keys.add(kv.key));
        }
        return keys;
    }

    private static List<List<Integer>> permutations(List<Integer> items) {
        if (items.size() <= 1) {
            return List.of(items);
        }
        List<List<Integer>> out = new ArrayList<>();
        for (Integer first : items) {
            List<Integer> rest = new ArrayList<>(items);
            rest.remove(first);
            for (List<Integer> tail : permutations(rest)) {
                List<Integer> p = new ArrayList<>();
                p.add(first);
                p.addAll(tail);
                out.add(p);
            }
        }
        return out;
    }
}
