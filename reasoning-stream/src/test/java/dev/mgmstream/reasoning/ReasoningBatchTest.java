package dev.mgmstream.reasoning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.GoldenTasks;
import dev.mgmstream.model.lm.LanguageModel;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Reject;
import dev.mgmstream.pipeline.stage.RejectedRecord;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.FinishReason;
import dev.mgmstream.schemas.avro.GenerationOptions;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batch function without a broker, on the real model: golden scenes answered as the Python reference
 * answers them, generate tasks turned into requests or failures, and every kind of bad input rejected with
 * its reason while the rest of the batch is answered.
 */
class ReasoningBatchTest {

    static ReasoningModels models;
    static String modelId;
    static final OutputTopic<String, Answer> ANSWERS = new OutputTopic<>("answers", new StringSerializer(),
            (topic, value) -> new byte[0]);
    static final OutputTopic<String, GenerationRequest> REQUESTS = new OutputTopic<>("requests",
            new StringSerializer(), (topic, value) -> new byte[0]);

    @TempDir
    static Path tmp;

    @BeforeAll
    static void load() {
        LanguageModel lm = LanguageModel.load(ModelManifest.load(GoldenTasks.modelDir()), EngineOptions.cpu(1));
        models = ReasoningModels.of(lm);
        modelId = lm.modelId();
    }

    @AfterAll
    static void close() {
        models.close();
    }

    static ReasoningBatch batch(String... config) {
        Map<String, String> c = new HashMap<>();
        c.put(ReasoningConfig.SLOTS.name(), "16");
        c.put(ReasoningConfig.CLAIM_CHECK_ROOTS.name(), tmp.resolve("store").toString());
        for (int i = 0; i < config.length; i += 2) {
            c.put(config[i], config[i + 1]);
        }
        return new ReasoningBatch(models, new FileClaimChecks(List.of(tmp.resolve("store"))), new ReasoningConfig(c),
                ANSWERS, REQUESTS, new ReasoningMetrics(new SimpleMeterRegistry()));
    }

    static List<InputRecord<String, VisualTokens>> inputs(List<VisualTokens> values) {
        List<InputRecord<String, VisualTokens>> in = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (int i = 0; i < values.size(); i++) {
            in.add(new InputRecord<>(i, "visual-tokens", 0, i, now - 20, values.get(i).getImageId(), values.get(i)));
        }
        return in;
    }

    static Map<String, Answer> answers(List<Emitted> out) {
        Map<String, Answer> m = new HashMap<>();
        for (Emitted e : out) {
            if (e instanceof Output<?, ?> o && o.value() instanceof Answer a) {
                assertThat(m.put(a.getTaskId(), a)).as("one answer per task: " + a.getTaskId()).isNull();
            }
        }
        return m;
    }

    static Map<String, GenerationRequest> requests(List<Emitted> out) {
        Map<String, GenerationRequest> m = new HashMap<>();
        for (Emitted e : out) {
            if (e instanceof Output<?, ?> o && o.value() instanceof GenerationRequest r) {
                assertThat(m.put(r.getTaskId(), r)).isNull();
            }
        }
        return m;
    }

    static List<Reject> rejects(List<Emitted> out) {
        return out.stream().filter(e -> e instanceof Reject).map(e -> (Reject) e).toList();
    }

    static final GenerationTags TAGS = new GenerationTags(List.of("<h>", "</h>"));

    @Test
    void generatorsSideBySideAnswerAsOneGeneratorDoes() throws Exception {
        List<VisualTokens> values = Golden.SCENES.stream()
                .map(s -> Golden.tokens(s, modelId, "float32", Golden.tasks(s))).toList();
        List<Emitted> alone = batch().apply(inputs(values));
        List<Emitted> sideBySide;
        try (ReasoningBatch b = batch(ReasoningConfig.WORKERS.name(), "3", ReasoningConfig.SLOTS.name(), "4")) {
            sideBySide = b.apply(inputs(values));
        }
        Map<String, Answer> one = answers(alone);
        Map<String, Answer> three = answers(sideBySide);
        assertThat(three.keySet()).isEqualTo(one.keySet());
        one.forEach((id, a) -> assertThat(three.get(id).getText()).as(id).isEqualTo(a.getText()));
        Map<String, GenerationRequest> oneRequests = requests(alone);
        Map<String, GenerationRequest> threeRequests = requests(sideBySide);
        assertThat(threeRequests.keySet()).isEqualTo(oneRequests.keySet());
        oneRequests.forEach((id, r) -> assertThat(threeRequests.get(id).getPrompt()).as(id).isEqualTo(r.getPrompt()));
    }

    @Test
    void goldenScenesAreAnsweredAsThePythonReferenceAnswers() throws Exception {
        List<VisualTokens> values = Golden.SCENES.stream()
                .map(s -> Golden.tokens(s, modelId, "float32", Golden.tasks(s))).toList();
        List<Emitted> out = batch().apply(inputs(values));
        assertThat(rejects(out)).isEmpty();
        Map<String, Answer> answers = answers(out);
        Map<String, GenerationRequest> requests = requests(out);
        int checked = 0;
        for (Golden.Scene s : Golden.SCENES) {
            for (int i = 0; i < s.tasks().size(); i++) {
                String id = Golden.taskId(s, i);
                GoldenTasks.Task ref = s.tasks().get(i);
                if (!ref.kind().equals("generate")) {
                    Answer a = answers.get(id);
                    assertThat(a.getStatus()).isEqualTo(AnswerStatus.OK);
                    assertThat(a.getText()).as(ref.name()).isEqualTo(ref.greedyAnswer());
                    assertThat(a.getPromptTokens()).isEqualTo(ref.promptIds().length);
                    assertThat(a.getCompletionTokens()).isPositive();
                    assertThat(a.getFinishReason()).isIn(FinishReason.STOP, FinishReason.LENGTH);
                    assertThat(a.getModelId()).isEqualTo(modelId);
                    assertThat(a.getImageId()).isEqualTo("img-" + s.id());
                    assertThat(a.getAttributes()).containsEntry("source", "test");
                    assertThat(a.getLatencies()).containsKeys("encoders", "reasoning", "total");
                    assertThat(requests).doesNotContainKey(id);
                } else if (TAGS.extract(ref.greedyAnswer()).prompt().isPresent()) {
                    // The generation stage writes this task's one Answer (reasoning.generate.output=request).
                    assertThat(answers).doesNotContainKey(id);
                    GenerationRequest r = requests.get(id);
                    assertThat(r.getPrompt()).isEqualTo(TAGS.extract(ref.greedyAnswer()).prompt().get());
                    assertThat(r.getText()).isEqualTo(ref.greedyAnswer());
                    assertThat(r.getTask().getLatencies()).containsKeys("encoders", "reasoning");
                } else {
                    Answer a = answers.get(id);
                    assertThat(a.getStatus()).isEqualTo(AnswerStatus.FAILED);
                    assertThat(a.getReason()).startsWith("no generation prompt: ");
                    assertThat(requests).doesNotContainKey(id);
                }
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(16);
    }

    @Test
    void halfPrecisionAndClaimCheckedTokensAreAnswered() throws Exception {
        Golden.Scene s = Golden.SCENES.get(1);
        VisualTokens inline16 = Golden.tokens(s, modelId, "float16", List.of(Golden.task("h1", TaskKind.CAPTION, null)));
        Path file = Files.createDirectories(tmp.resolve("store").resolve("ab")).resolve("tokens.bin");
        Files.write(file, TensorBytes.encode(s.tokens(), "float32"));
        VisualTokens claimed = VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32",
                        List.of(Golden.task("c1", TaskKind.CAPTION, null))))
                .setPayload(null).setClaimCheckUri(file.toUri().toString()).build();
        Map<String, Answer> answers = answers(batch().apply(inputs(List.of(inline16, claimed))));
        assertThat(answers.get("h1").getStatus()).isEqualTo(AnswerStatus.OK);
        assertThat(answers.get("h1").getText()).isNotEmpty();
        // A caption task without a prompt asks the manifest's default caption prompt, as the golden caption did.
        GoldenTasks.Task caption = s.tasks().stream().filter(t -> t.kind().equals("caption")).findFirst().orElseThrow();
        assertThat(answers.get("c1").getText()).isEqualTo(caption.greedyAnswer());
    }

    @Test
    void badRecordsAreRejectedWithTheirReasonAndTheRestOfTheBatchIsAnswered() throws Exception {
        Golden.Scene s = Golden.SCENES.get(0);
        List<TaskRef> one = List.of(Golden.task("x", TaskKind.VQA, "Where is the red circle?"));
        Path outside = Files.write(tmp.resolve("outside.bin"), TensorBytes.encode(s.tokens(), "float32"));
        List<VisualTokens> values = List.of(
                Golden.tokens(s, modelId, "float32", List.of(Golden.task("good", TaskKind.VQA, "Where is the red circle?"))),
                Golden.tokens(s, "mgm-34b", "float32", one),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one))
                        .setShape(List.of(s.count() * 2, s.tokens().length / s.count() / 2)).build(),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one))
                        .setPayload(ByteBuffer.wrap(new byte[100])).build(),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one)).setPayload(null).build(),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one)).setDtype("int8").build(),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one)).setPayload(null)
                        .setClaimCheckUri(tmp.resolve("store").resolve("missing.bin").toUri().toString()).build(),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one)).setPayload(null)
                        .setClaimCheckUri(outside.toUri().toString()).build(),
                VisualTokens.newBuilder(Golden.tokens(s, modelId, "float32", one)).setPayload(null)
                        .setClaimCheckUri("s3://bucket/tokens.bin").build(),
                Golden.tokens(s, modelId, "float32", List.of(
                        Golden.task("long", TaskKind.VQA, "Is there a red circle? ".repeat(40)),
                        Golden.task("noprompt", TaskKind.VQA, null),
                        Golden.task("cold", TaskKind.VQA, "Is there a sign?",
                                GenerationOptions.newBuilder().setTemperature(-1f).build()),
                        Golden.task("fine", TaskKind.VQA, "Is there a sign?"))));
        List<Emitted> out = batch().apply(inputs(values));

        Map<Integer, String> rejected = new HashMap<>();
        rejects(out).forEach(r -> rejected.put(r.source(), r.reason().getMessage()));
        assertThat(rejected).hasSize(8);
        assertThat(rejected.get(1)).contains("unknown model id 'mgm-34b'").contains(modelId);
        assertThat(rejected.get(2)).contains("do not fit model").contains("[" + s.count() * 2);
        assertThat(rejected.get(3)).contains("100 bytes");
        assertThat(rejected.get(4)).contains("exactly one of payload and claim_check_uri");
        assertThat(rejected.get(5)).contains("int8");
        assertThat(rejected.get(6)).contains("nothing is stored");
        assertThat(rejected.get(7)).contains("outside the claim-check folders");
        assertThat(rejected.get(8)).contains("no reader for s3");
        rejects(out).forEach(r -> assertThat(r.reason()).isInstanceOf(InvalidVisualTokensException.class));

        Map<String, Answer> answers = answers(out);
        assertThat(answers.keySet()).containsExactlyInAnyOrder("good", "long", "noprompt", "cold", "fine");
        assertThat(answers.get("good").getStatus()).isEqualTo(AnswerStatus.OK);
        assertThat(answers.get("fine").getStatus()).isEqualTo(AnswerStatus.OK);
        assertThat(answers.get("long").getStatus()).isEqualTo(AnswerStatus.REJECTED);
        assertThat(answers.get("long").getReason()).contains("context of");
        assertThat(answers.get("noprompt").getReason()).contains("a vqa task needs a prompt");
        assertThat(answers.get("cold").getReason()).contains("temperature");
    }

    @Test
    void aRejectedRecordAnswersEachOfItsTasks() {
        Golden.Scene s = Golden.SCENES.get(0);
        VisualTokens v = Golden.tokens(s, "unknown", "float32", List.of(Golden.task("a", TaskKind.CAPTION, null),
                Golden.task("b", TaskKind.VQA, "Is there a sign?")));
        InputRecord<String, VisualTokens> in = inputs(List.of(v)).get(0);
        RejectedRecord r = new RejectedRecord(0, "reasoning", "visual-tokens", 0, 0, null, new byte[0],
                InvalidVisualTokensException.class.getName(), "unknown model id 'unknown'", Instant.now(), 1);
        var out = ReasoningRejections.answers(ANSWERS, new ReasoningMetrics(new SimpleMeterRegistry()))
                .onRejected(r, Optional.of(in));
        assertThat(out).hasSize(2);
        for (Output<?, ?> o : out) {
            Answer a = (Answer) o.value();
            assertThat(a.getStatus()).isEqualTo(AnswerStatus.REJECTED);
            assertThat(a.getReason()).isEqualTo("visual tokens rejected: unknown model id 'unknown'");
            assertThat(o.key()).isEqualTo(a.getTaskId());
        }
    }

    @Test
    void aRecordThatDoesNotDecodeAnswersEveryTaskItsHeaderNames() {
        RejectedRecord r = new RejectedRecord(3, "reasoning", "visual-tokens", 0, 7, "img-1".getBytes(),
                new byte[] {0, 42, -1, 3}, "org.apache.kafka.common.errors.SerializationException",
                "unknown magic byte", Instant.now(), 1,
                Map.of(TaskIdsHeader.NAME, TaskIdsHeader.encode(List.of("x1", "x,2"))));
        var hook = ReasoningRejections.answers(ANSWERS, new ReasoningMetrics(new SimpleMeterRegistry()));

        var out = hook.onRejected(r, Optional.empty());

        assertThat(out.stream().map(o -> (Object) o.key()).toList()).containsExactly("x1", "x,2");
        for (Output<?, ?> o : out) {
            Answer a = (Answer) o.value();
            assertThat(o.source()).isEqualTo(3);
            assertThat(a.getTaskId()).isEqualTo(o.key());
            assertThat(a.getImageId()).isEqualTo("img-1");
            assertThat(a.getStatus()).isEqualTo(AnswerStatus.REJECTED);
            assertThat(a.getReason()).isEqualTo("the reasoning stage could not process the task "
                    + "(SerializationException: unknown magic byte)");
        }
        RejectedRecord unnamed = new RejectedRecord(0, "reasoning", "visual-tokens", 0, 8, null, new byte[] {1},
                "org.apache.kafka.common.errors.SerializationException", "bad", Instant.now(), 1);
        assertThat(hook.onRejected(unnamed, Optional.empty())).as("no task to answer").isEmpty();
    }

    @Test
    void sampledAnswersAreReproducibleFromTheTaskAlone() throws Exception {
        Golden.Scene s = Golden.SCENES.get(2);
        GenerationOptions hot = GenerationOptions.newBuilder().setTemperature(1.3f).setMaxNewTokens(20).build();
        List<VisualTokens> values = List.of(Golden.tokens(s, modelId, "float32", List.of(
                Golden.task("s1", TaskKind.VQA, "Is there a sign?", hot),
                Golden.task("s2", TaskKind.CAPTION, null, hot))));
        Map<String, Answer> first = answers(batch().apply(inputs(values)));
        Map<String, Answer> again = answers(batch("reasoning.lm.slots", "1").apply(inputs(values)));
        assertThat(again.get("s1").getText()).isEqualTo(first.get("s1").getText());
        assertThat(again.get("s2").getText()).isEqualTo(first.get("s2").getText());
        assertThat(first.get("s1").getCompletionTokens()).isLessThanOrEqualTo(20);
    }

    @Test
    void generateOutputModesDecideBetweenRequestAndAnswer() throws Exception {
        Golden.Scene scene = null;
        int index = -1;
        for (Golden.Scene s : Golden.SCENES) {
            for (int i = 0; i < s.tasks().size() && scene == null; i++) {
                GoldenTasks.Task t = s.tasks().get(i);
                if (t.kind().equals("generate") && TAGS.extract(t.greedyAnswer()).prompt().isPresent()) {
                    scene = s;
                    index = i;
                }
            }
        }
        assumeTrue(scene != null, "the model in models/mgm-tiny writes no well-formed generation prompt (untrained?)");
        GoldenTasks.Task t = scene.tasks().get(index);
        List<VisualTokens> values = List.of(Golden.tokens(scene, modelId, "float32",
                List.of(Golden.task("g", TaskKind.GENERATE, t.prompt()))));
        String want = TAGS.extract(t.greedyAnswer()).prompt().get();

        List<Emitted> both = batch(ReasoningConfig.GENERATE_OUTPUT.name(), "both").apply(inputs(values));
        assertThat(answers(both).get("g").getGenerationPrompt()).isEqualTo(want);
        assertThat(requests(both).get("g").getPrompt()).isEqualTo(want);
        assertThat(requests(both).get("g").getSeed()).isEqualTo(ReasoningBatch.seed(Golden.task("g", TaskKind.GENERATE, "")));

        List<Emitted> answerOnly = batch(ReasoningConfig.GENERATE_OUTPUT.name(), "answer").apply(inputs(values));
        assertThat(requests(answerOnly)).isEmpty();
        assertThat(answers(answerOnly).get("g").getStatus()).isEqualTo(AnswerStatus.OK);
    }
}
