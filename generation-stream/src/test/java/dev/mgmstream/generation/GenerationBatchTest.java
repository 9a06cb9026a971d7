package dev.mgmstream.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.store.FolderObjectStore;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.diffusion.GeneratorManifest;
import dev.mgmstream.model.diffusion.PixelDiff;
import dev.mgmstream.model.diffusion.TextToImage;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InfrastructureErrors;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.TransientBatchException;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.TaskRef;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batch function without a broker, on the small random generator fixture (whose golden images the
 * Python sampler made): images land as PNGs under their content address and equal the Python ones, each
 * task gets one final Answer, a request the generator cannot take is answered REJECTED, and a replayed
 * batch writes the same files and records.
 */
class GenerationBatchTest {

    static final OutputTopic<String, Answer> ANSWERS = new OutputTopic<>("answers", new StringSerializer(),
            (topic, value) -> new byte[0]);
    static final OutputTopic<String, GeneratedImage> IMAGES = new OutputTopic<>("generated-images",
            new StringSerializer(), (topic, value) -> new byte[0]);

    static Path fixture;
    static JsonNode golden;
    static TextToImage generator;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void load() throws Exception {
        fixture = Path.of(System.getProperty("mgm.generator.fixture",
                "../model-runtime/src/test/resources/generator-fixture")).toAbsolutePath().normalize();
        golden = new ObjectMapper().readTree(fixture.resolve("golden/golden.json").toFile());
        generator = TextToImage.load(GeneratorManifest.load(fixture), EngineOptions.cpu(1));
    }

    @AfterAll
    static void close() {
        generator.close();
    }

    static GenerationRequest request(String id, String prompt, long seed) {
        TaskRef task = TaskRef.newBuilder()
                .setTaskId(id)
                .setKind(TaskKind.GENERATE)
                .setPrompt("Generate an image like this one, but without the square.")
                .setSubmittedAt(Instant.now().minusMillis(80))
                .setAttributes(Map.of("source", "test"))
                .setLatencies(Map.of("encoders", 5L, "reasoning", 9L))
                .setImage("inline")
                .build();
        return GenerationRequest.newBuilder()
                .setTaskId(id)
                .setImageId("abc")
                .setPrompt(prompt)
                .setSeed(seed)
                .setText("<h>" + prompt + "</h>")
                .setModelId("mgm-tiny")
                .setPromptTokens(30)
                .setCompletionTokens(12)
                .setTask(task)
                .build();
    }

    static List<InputRecord<String, GenerationRequest>> inputs(List<GenerationRequest> values) {
        List<InputRecord<String, GenerationRequest>> in = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (int i = 0; i < values.size(); i++) {
            in.add(new InputRecord<>(i, "generation-requests", 0, i, now - 20, values.get(i).getTaskId(), values.get(i)));
        }
        return in;
    }

    static GenerationBatch batch(Path images) throws Exception {
        return new GenerationBatch(generator, new FolderObjectStore(images), new GenerationConfig(Map.of()), IMAGES,
                ANSWERS, new GenerationMetrics(new SimpleMeterRegistry()));
    }

    @SuppressWarnings("unchecked")
    static <V> List<V> values(List<Emitted> out, String topic) {
        List<V> vs = new ArrayList<>();
        for (Emitted e : out) {
            Output<?, ?> o = (Output<?, ?>) e;
            if (o.topic().name().equals(topic)) {
                vs.add((V) o.value());
            }
        }
        return vs;
    }

    @Test
    void imagesEqualThePythonSamplerAndEveryTaskIsAnswered() throws Exception {
        JsonNode s0 = golden.get("samples").get(0);
        JsonNode s1 = golden.get("samples").get(1);
        List<GenerationRequest> reqs = List.of(
                request("t0", s0.get("prompt").asText(), s0.get("seed").asLong()),
                request("bad", "  ", 3),
                request("t1", s1.get("prompt").asText(), s1.get("seed").asLong()));
        Path images = tmp.resolve("images");
        List<Emitted> out = batch(images).apply(inputs(reqs));

        List<GeneratedImage> made = values(out, "generated-images");
        List<Answer> answers = values(out, "answers");
        assertEquals(2, made.size());
        assertEquals(3, answers.size(), "one final answer per task");
        for (int i = 0; i < 2; i++) {
            GeneratedImage g = made.get(i);
            JsonNode s = i == 0 ? s0 : s1;
            Path file = Path.of(URI.create(g.getImageUri()));
            assertEquals(g.getSha256() + ".png", file.getFileName().toString());
            assertTrue(file.startsWith(images.toRealPath()));
            BufferedImage mine = ImageIO.read(file.toFile());
            BufferedImage ref = ImageIO.read(fixture.resolve("golden").resolve(s.get("image").asText()).toFile());
            assertEquals(ref.getWidth(), mine.getWidth());
            assertEquals(g.getWidth(), mine.getWidth());
            int max = PixelDiff.max(ref, mine);
            assertTrue(max <= 2, "image " + i + " differs from the Python sampler's by " + max + "/255");
        }
        Answer ok = answers.stream().filter(a -> a.getTaskId().equals("t0")).findFirst().orElseThrow();
        assertEquals(AnswerStatus.OK, ok.getStatus());
        assertEquals(made.get(0).getImageUri(), ok.getGeneratedImage());
        assertEquals(s0.get("prompt").asText(), ok.getGenerationPrompt());
        assertEquals("<h>" + s0.get("prompt").asText() + "</h>", ok.getText());
        assertEquals(TaskKind.GENERATE, ok.getKind());
        assertNotNull(ok.getLatencies().get("generation"));
        assertEquals(9L, ok.getLatencies().get("reasoning"));
        Answer bad = answers.stream().filter(a -> a.getTaskId().equals("bad")).findFirst().orElseThrow();
        assertEquals(AnswerStatus.REJECTED, bad.getStatus());
        assertTrue(bad.getReason().contains("prompt is empty"), bad.getReason());

        // a replay (the runtime re-runs a batch after a crash) writes the same files and records
        List<Emitted> again = batch(images).apply(inputs(reqs.subList(0, 1)));
        GeneratedImage replayed = (GeneratedImage) values(again, "generated-images").get(0);
        assertEquals(made.get(0).getImageUri(), replayed.getImageUri());
        assertEquals(made.get(0).getSha256(), replayed.getSha256());
        try (var files = Files.list(images)) {
            assertEquals(2, files.filter(p -> p.toString().endsWith(".png")).count());
        }
    }

    @Test
    void aPngThatCannotBeWrittenRetriesTheBatchInsteadOfRejectingItsTasks() throws Exception {
        JsonNode s0 = golden.get("samples").get(0);
        List<GenerationRequest> reqs = List.of(request("w", s0.get("prompt").asText(), s0.get("seed").asLong()));
        Path images = tmp.resolve("images-flapping");
        GenerationBatch batch = batch(images);
        // The folder goes away and a file takes its place, as when a mount drops: nothing can be written.
        Files.delete(images);
        Files.writeString(images, "not a folder");

        Exception thrown = assertThrows(Exception.class, () -> batch.apply(inputs(reqs)));
        assertInstanceOf(TransientBatchException.class, thrown, thrown.toString());
        assertTrue(InfrastructureErrors.isTransient(thrown));

        Files.delete(images);
        Files.createDirectories(images);
        List<Emitted> out = batch.apply(inputs(reqs));
        Answer answer = (Answer) values(out, "answers").get(0);
        assertEquals(AnswerStatus.OK, answer.getStatus());
        assertTrue(Files.isRegularFile(Path.of(URI.create(answer.getGeneratedImage()))));
    }

    @Test
    void requestOptionsOverrideTheDefaultsAndBadOnesAreRejected() throws Exception {
        GenerationRequest tooManySteps = GenerationRequest.newBuilder(request("s", "a small red circle at the top.", 4))
                .setSteps(5000).build();
        GenerationRequest tooLong = request("l", "a small red circle at the top left, ".repeat(30), 4);
        List<Emitted> out = batch(tmp.resolve("images2")).apply(inputs(List.of(tooManySteps, tooLong)));
        List<Answer> answers = values(out, "answers");
        assertEquals(2, answers.size());
        for (Answer a : answers) {
            assertEquals(AnswerStatus.REJECTED, a.getStatus());
        }
        assertTrue(answers.get(0).getReason().contains("steps"), answers.get(0).getReason());
        assertTrue(answers.get(1).getReason().contains("at most"), answers.get(1).getReason());
        assertTrue(values(out, "generated-images").isEmpty());
    }
}
