package dev.mgmstream.generation;

import dev.mgmstream.store.ObjectStore;
import dev.mgmstream.model.diffusion.GeneratorManifest;
import dev.mgmstream.model.diffusion.TextToImage;
import dev.mgmstream.pipeline.stage.BatchFunction;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.TransientBatchException;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.TaskRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The generation stage's batch function: every request of the micro-batch is rendered in one call of
 * the generator (classifier-free guidance rows included), each image is written as a PNG under its
 * content address, and each task gets a {@code GeneratedImage} and its one final {@code Answer} (status
 * OK, {@code generated_image} set). A request the generator cannot take (empty or too long a prompt,
 * steps or guidance out of range) gets an Answer REJECTED with the reason, and the others go on.
 *
 * <p>A PNG that cannot be written is a {@link TransientBatchException}: the batch is retried, never rejected.
 *
 * <p>Pure in the runtime's sense: the noise comes from the request's seed, so a replayed batch writes the
 * same pixels, the same file names and the same records.
 */
final class GenerationBatch implements BatchFunction<String, GenerationRequest> {

    static final String STAGE = "generation";

    private final TextToImage generator;
    private final ObjectStore images;
    private final int steps;
    private final double guidance;
    private final String negativePrompt;
    private final OutputTopic<String, GeneratedImage> generated;
    private final OutputTopic<String, Answer> answers;
    private final GenerationMetrics metrics;

    GenerationBatch(TextToImage generator, ObjectStore images, GenerationConfig config,
                    OutputTopic<String, GeneratedImage> generated, OutputTopic<String, Answer> answers,
                    GenerationMetrics metrics) {
        this.generator = generator;
        this.images = images;
        GeneratorManifest.Defaults d = generator.manifest().defaults();
        this.steps = config.steps() > 0 ? config.steps() : d.steps();
        this.guidance = Double.isNaN(config.guidance()) ? d.guidance() : config.guidance();
        this.negativePrompt = config.negativePrompt() != null ? config.negativePrompt()
                : d.negativePrompt() == null ? "" : d.negativePrompt();
        this.generated = generated;
        this.answers = answers;
        this.metrics = metrics;
    }

    @Override
    public List<Emitted> apply(List<InputRecord<String, GenerationRequest>> batch) throws Exception {
        List<Emitted> out = new ArrayList<>();
        List<InputRecord<String, GenerationRequest>> accepted = new ArrayList<>();
        List<TextToImage.Request> requests = new ArrayList<>();
        for (InputRecord<String, GenerationRequest> in : batch) {
            TextToImage.Request r = request(in.value());
            try {
                generator.validate(r);
                accepted.add(in);
                requests.add(r);
            } catch (IllegalArgumentException e) {
                metrics.answer(AnswerStatus.REJECTED);
                out.add(Output.of(in, answers, in.value().getTaskId(), answer(in.value(), AnswerStatus.REJECTED)
                        .setReason("generation request rejected: " + e.getMessage())
                        .setLatencies(latencies(in, System.currentTimeMillis()))
                        .build()));
            }
        }
        if (requests.isEmpty()) {
            return out;
        }
        long start = System.nanoTime();
        List<TextToImage.Image> made = generator.generate(requests);
        metrics.generated(requests.size(), System.nanoTime() - start);
        for (int i = 0; i < made.size(); i++) {
            InputRecord<String, GenerationRequest> in = accepted.get(i);
            GenerationRequest req = in.value();
            TextToImage.Image img = made.get(i);
            byte[] png = Png.encode(img);
            String sha = Png.sha256(png);
            URI uri = store(sha + ".png", png);
            Map<String, Long> lat = latencies(in, System.currentTimeMillis());
            out.add(Output.of(in, generated, req.getTaskId(), GeneratedImage.newBuilder()
                    .setTaskId(req.getTaskId())
                    .setImageUri(uri.toString())
                    .setSha256(sha)
                    .setWidth(img.width())
                    .setHeight(img.height())
                    .setSeed(requests.get(i).seed())
                    .setLatencies(lat)
                    .setPrompt(req.getPrompt())
                    .setModelId(generator.modelId())
                    .setRequest(req)
                    .build()));
            metrics.answer(AnswerStatus.OK);
            out.add(Output.of(in, answers, req.getTaskId(), answer(req, AnswerStatus.OK)
                    .setText(req.getText())
                    .setGeneratedImage(uri.toString())
                    .setLatencies(lat)
                    .build()));
        }
        return out;
    }

    /**
     * A PNG that cannot be written (a full disk, a permission that flapped, a mount away) is the deployment's
     * trouble, not the request's: the batch waits and runs again rather than rejecting every task in it.
     */
    private URI store(String name, byte[] png) throws TransientBatchException {
        try {
            return images.put(name, png);
        } catch (IOException | UncheckedIOException e) {
            throw new TransientBatchException("cannot write the generated image " + name + ": " + e, e);
        }
    }

    private TextToImage.Request request(GenerationRequest r) {
        return new TextToImage.Request(r.getPrompt(),
                r.getNegativePrompt() != null ? r.getNegativePrompt() : negativePrompt,
                r.getSeed(),
                r.getSteps() != null ? r.getSteps() : steps,
                r.getGuidance() != null ? r.getGuidance() : guidance);
    }

    /** The task's final Answer, carrying what reasoning passed on in the request. */
    static Answer.Builder answer(GenerationRequest r, AnswerStatus status) {
        TaskRef task = r.getTask();
        return Answer.newBuilder()
                .setTaskId(r.getTaskId())
                .setImageId(r.getImageId())
                .setStatus(status)
                .setModelId(r.getModelId())
                .setPromptTokens(r.getPromptTokens())
                .setCompletionTokens(r.getCompletionTokens())
                .setGenerationPrompt(r.getPrompt())
                // reasoning sends a request only for an answer that closed its </h>: the model stopped by itself
                .setFinishReason(dev.mgmstream.schemas.avro.FinishReason.STOP)
                .setKind(task.getKind())
                .setPrompt(task.getPrompt())
                .setAttributes(task.getAttributes())
                .setImage(task.getImage())
                .setTraceId(task.getTraceId());
    }

    /** Latencies so far plus this stage's (since the request was written) and the total since submission. */
    static Map<String, Long> latencies(InputRecord<String, GenerationRequest> in, long nowMillis) {
        TaskRef task = in.value().getTask();
        Map<String, Long> lat = new HashMap<>(task.getLatencies());
        lat.put(STAGE, Math.max(0, nowMillis - in.timestamp()));
        lat.put("total", Math.max(0, nowMillis - task.getSubmittedAt().toEpochMilli()));
        return lat;
    }
}
