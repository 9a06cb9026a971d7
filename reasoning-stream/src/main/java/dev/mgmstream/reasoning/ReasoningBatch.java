package dev.mgmstream.reasoning;

import dev.mgmstream.model.lm.BatchingOptions;
import dev.mgmstream.model.lm.Completion;
import dev.mgmstream.model.lm.FinishReason;
import dev.mgmstream.model.lm.Generator;
import dev.mgmstream.model.lm.LanguageModel;
import dev.mgmstream.model.lm.Prompt;
import dev.mgmstream.model.lm.SamplingParams;
import dev.mgmstream.pipeline.stage.BatchFunction;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Reject;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.GenerationOptions;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The reasoning stage's batch function: every task on every VisualTokens record of the micro-batch is
 * answered by its model in one continuous-batching run, so tasks from different images share decode
 * steps and a long caption does not hold short answers back.
 *
 * <p>Outcomes, per task: an {@code Answer} (status OK with text, finish reason, token counts and
 * latencies); for a generate task, a {@code GenerationRequest} with the prompt between the generation
 * tags (see {@link ReasoningConfig#GENERATE_OUTPUT}), or an Answer FAILED saying why there is none; an
 * Answer REJECTED for a task the model cannot take (prompt longer than the context, bad options). A
 * record the stage cannot use at all (unknown model id, wrong shape, unreadable payload) is a
 * {@link Reject}: it goes to the dead-letter topic and the rejection hook answers each of its tasks.
 *
 * <p>Pure in the runtime's sense: greedy decoding is deterministic, and a sampled task's seed is its own
 * or derived from its task id, so a replayed batch writes the same outputs.
 */
final class ReasoningBatch implements BatchFunction<String, VisualTokens>, AutoCloseable {

    static final String STAGE = "reasoning";
    static final String DEFAULT_CAPTION_PROMPT = "Describe the image.";

    private final ReasoningModels models;
    private final ClaimCheckReader claimChecks;
    private final BatchingOptions batching;
    private final ReasoningConfig.GenerateOutput generateOutput;
    private final int maxNewTokens;
    private final int topK;
    private final OutputTopic<String, Answer> answers;
    private final OutputTopic<String, GenerationRequest> requests;
    private final ReasoningMetrics metrics;
    private final int workers;
    /** Runs the generators beyond the first (which runs on the stage's own thread); null with one worker. */
    private final ExecutorService pool;

    ReasoningBatch(ReasoningModels models, ClaimCheckReader claimChecks, ReasoningConfig config,
                   OutputTopic<String, Answer> answers, OutputTopic<String, GenerationRequest> requests,
                   ReasoningMetrics metrics) {
        this.models = models;
        this.claimChecks = claimChecks;
        this.batching = config.batching();
        this.generateOutput = config.generateOutput();
        this.maxNewTokens = config.maxNewTokens();
        this.topK = config.topK();
        this.answers = answers;
        this.requests = requests;
        this.metrics = metrics;
        this.workers = config.workers();
        this.pool = workers > 1 ? Executors.newFixedThreadPool(workers - 1, r -> {
            Thread t = new Thread(r, "reasoning-generator");
            t.setDaemon(true);
            return t;
        }) : null;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }

    /** One task on its way through the model. */
    private record Job(InputRecord<String, VisualTokens> input, TaskRef task, String prompt, Prompt lmPrompt,
                       long seed) {}

    @Override
    public List<Emitted> apply(List<InputRecord<String, VisualTokens>> batch) throws Exception {
        long startMillis = System.currentTimeMillis();
        List<Emitted> out = new ArrayList<>();
        Map<LanguageModel, List<Job>> byModel = new LinkedHashMap<>();
        for (InputRecord<String, VisualTokens> in : batch) {
            VisualTokens v = in.value();
            LanguageModel lm = models.get(v.getModelId()).orElse(null);
            if (lm == null) {
                out.add(Reject.of(in, new InvalidVisualTokensException("unknown model id '" + v.getModelId()
                        + "'; this stage serves " + String.join(", ", models.ids()))));
                continue;
            }
            VisualTokenPayload payload;
            try {
                payload = VisualTokenPayload.read(v, lm, claimChecks);
            } catch (InvalidVisualTokensException e) {
                out.add(Reject.of(in, e));
                continue;
            }
            for (TaskRef task : v.getTasks()) {
                try {
                    String prompt = userPrompt(task, lm);
                    long seed = seed(task);
                    SamplingParams params = sampling(task, lm, seed);
                    String asked = task.getKind() == TaskKind.GENERATE ? lm.generationRequest(prompt) : prompt;
                    Prompt p = lm.prompt(task.getTaskId(), asked, payload.values(), payload.count(), params);
                    byModel.computeIfAbsent(lm, k -> new ArrayList<>()).add(new Job(in, task, prompt, p, seed));
                } catch (IllegalArgumentException e) {
                    // PromptRejectedException among them: this task cannot be answered as asked; the others can.
                    metrics.answer(AnswerStatus.REJECTED);
                    out.add(Output.of(in, answers, task.getTaskId(), answer(task, in, lm, AnswerStatus.REJECTED)
                            .setReason("task rejected: " + e.getMessage())
                            .setLatencies(latencies(task, in, System.currentTimeMillis()))
                            .build()));
                }
            }
        }
        for (Map.Entry<LanguageModel, List<Job>> e : byModel.entrySet()) {
            out.addAll(generate(e.getKey(), e.getValue(), startMillis));
        }
        return out;
    }

    private List<Emitted> generate(LanguageModel lm, List<Job> jobs, long startMillis) throws Exception {
        List<Prompt> prompts = new ArrayList<>(jobs.size());
        for (Job j : jobs) {
            prompts.add(j.lmPrompt());
        }
        List<Completion> done = workers > 1 && prompts.size() > 1 ? generateSideBySide(lm, prompts)
                : generateAll(lm, prompts);
        GenerationTags tags = GenerationTags.of(lm.manifest().chat());
        List<Emitted> out = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            Job j = jobs.get(i);
            Completion c = done.get(i);
            long finished = startMillis + c.totalNanos() / 1_000_000;
            Map<String, Long> lat = latencies(j.task(), j.input(), finished);
            Answer.Builder a = answer(j.task(), j.input(), lm, AnswerStatus.OK)
                    .setText(c.text())
                    .setFinishReason(finishReason(c.finishReason()))
                    .setPromptTokens(c.promptTokens())
                    .setCompletionTokens(c.completionTokens())
                    .setLatencies(lat);
            if (j.task().getKind() != TaskKind.GENERATE) {
                metrics.answer(AnswerStatus.OK);
                out.add(Output.of(j.input(), answers, j.task().getTaskId(), a.build()));
                continue;
            }
            GenerationTags.Result r = tags.extract(c.text());
            if (r.prompt().isEmpty()) {
                metrics.answer(AnswerStatus.FAILED);
                out.add(Output.of(j.input(), answers, j.task().getTaskId(), a
                        .setStatus(AnswerStatus.FAILED)
                        // the model's text stays: the user sees what it wrote instead of a prompt
                        .setReason("no generation prompt: " + r.problem() + " (answer: \"" + shorten(c.text()) + "\")")
                        .build()));
                continue;
            }
            String generationPrompt = r.prompt().get();
            if (generateOutput != ReasoningConfig.GenerateOutput.ANSWER) {
                metrics.generationRequest();
                TaskRef forward = TaskRef.newBuilder(j.task()).setLatencies(withoutTotal(lat)).build();
                out.add(Output.of(j.input(), requests, j.task().getTaskId(), GenerationRequest.newBuilder()
                        .setTaskId(j.task().getTaskId())
                        .setImageId(j.input().value().getImageId())
                        .setPrompt(generationPrompt)
                        .setSeed(j.seed())
                        .setText(c.text())
                        .setModelId(lm.modelId())
                        .setPromptTokens(c.promptTokens())
                        .setCompletionTokens(c.completionTokens())
                        .setTask(forward)
                        .build()));
            }
            if (generateOutput != ReasoningConfig.GenerateOutput.REQUEST) {
                metrics.answer(AnswerStatus.OK);
                out.add(Output.of(j.input(), answers, j.task().getTaskId(),
                        a.setGenerationPrompt(generationPrompt).build()));
            }
        }
        return out;
    }

    private List<Completion> generateAll(LanguageModel lm, List<Prompt> prompts) throws Exception {
        long promptTokens = 0;
        for (Prompt p : prompts) {
            promptTokens += p.length();
        }
        try (Generator g = lm.newGenerator(batching)) {
            List<Completion> done = g.generate(prompts);
            metrics.generated(g.stats(), promptTokens);
            return done;
        }
    }

    /**
     * Deals the prompts round robin to {@code workers} generators and runs them at once, the first on this
     * thread; each answer is the same as from one generator (greedy rows do not depend on their neighbours,
     * sampled ones draw from their own seeds).
     */
    private List<Completion> generateSideBySide(LanguageModel lm, List<Prompt> prompts) throws Exception {
        int w = Math.min(workers, prompts.size());
        List<List<Prompt>> shares = new ArrayList<>();
        for (int i = 0; i < w; i++) {
            shares.add(new ArrayList<>());
        }
        for (int i = 0; i < prompts.size(); i++) {
            shares.get(i % w).add(prompts.get(i));
        }
        List<Future<List<Completion>>> others = new ArrayList<>();
        for (int i = 1; i < w; i++) {
            List<Prompt> share = shares.get(i);
            others.add(pool.submit(() -> generateAll(lm, share)));
        }
        List<List<Completion>> results = new ArrayList<>();
        try {
            results.add(generateAll(lm, shares.get(0)));
            for (Future<List<Completion>> f : others) {
                results.add(f.get());
            }
        } catch (ExecutionException e) {
            others.forEach(f -> f.cancel(true));
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (Exception | Error e) {
            others.forEach(f -> f.cancel(true));
            throw e;
        }
        Completion[] done = new Completion[prompts.size()];
        for (int i = 0; i < w; i++) {
            List<Completion> r = results.get(i);
            for (int j = 0; j < r.size(); j++) {
                done[j * w + i] = r.get(j);
            }
        }
        return List.of(done);
    }

    /** An Answer with what every outcome carries: the task's identity, context and model. */
    static Answer.Builder answer(TaskRef task, InputRecord<String, VisualTokens> in, LanguageModel lm,
                                 AnswerStatus status) {
        return Answer.newBuilder()
                .setTaskId(task.getTaskId())
                .setImageId(in.value().getImageId())
                .setStatus(status)
                .setModelId(lm == null ? in.value().getModelId() : lm.modelId())
                .setKind(task.getKind())
                .setPrompt(task.getPrompt())
                .setAttributes(task.getAttributes())
                .setImage(task.getImage())
                .setTraceId(task.getTraceId());
    }

    /**
     * The task's latencies so far, plus this stage's: from when its VisualTokens record was written (so
     * the time it waited in Kafka and in the generator's queue counts) to its answer, and the total since
     * the task was submitted.
     */
    static Map<String, Long> latencies(TaskRef task, InputRecord<String, VisualTokens> in, long nowMillis) {
        Map<String, Long> lat = new HashMap<>(task.getLatencies());
        lat.put(STAGE, Math.max(0, nowMillis - in.timestamp()));
        lat.put("total", Math.max(0, nowMillis - task.getSubmittedAt().toEpochMilli()));
        return lat;
    }

    private static Map<String, Long> withoutTotal(Map<String, Long> lat) {
        Map<String, Long> m = new HashMap<>(lat);
        m.remove("total");
        return m;
    }

    private String userPrompt(TaskRef task, LanguageModel lm) {
        String p = task.getPrompt();
        if (p != null && !p.isBlank()) {
            return p;
        }
        if (task.getKind() == TaskKind.CAPTION) {
            Map<String, String> defaults = lm.manifest().chat().defaultPrompts();
            return defaults != null && defaults.get("caption") != null ? defaults.get("caption") : DEFAULT_CAPTION_PROMPT;
        }
        throw new IllegalArgumentException("a " + task.getKind().name().toLowerCase() + " task needs a prompt");
    }

    private SamplingParams sampling(TaskRef task, LanguageModel lm, long seed) {
        GenerationOptions o = task.getOptions();
        var defaults = lm.manifest().generationDefaults();
        int max = o != null && o.getMaxNewTokens() != null ? o.getMaxNewTokens()
                : maxNewTokens > 0 ? maxNewTokens : defaults != null && defaults.maxNewTokens() > 0 ? defaults.maxNewTokens() : 256;
        double temperature = o != null && o.getTemperature() != null ? o.getTemperature()
                : defaults != null ? defaults.temperature() : 0;
        double topP = o != null && o.getTopP() != null ? o.getTopP()
                : defaults != null && defaults.topP() > 0 ? defaults.topP() : 1.0;
        return new SamplingParams(max, temperature, topK, topP, seed);
    }

    /** The task's own seed, or one derived from its id, so a replay samples the same answer. */
    static long seed(TaskRef task) {
        GenerationOptions o = task.getOptions();
        if (o != null && o.getSeed() != null) {
            return o.getSeed();
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(task.getTaskId().getBytes(StandardCharsets.UTF_8));
            long s = 0;
            for (int i = 0; i < 8; i++) {
                s = s << 8 | (h[i] & 0xFF);
            }
            return s & Long.MAX_VALUE;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static dev.mgmstream.schemas.avro.FinishReason finishReason(FinishReason r) {
        return switch (r) {
            case STOP -> dev.mgmstream.schemas.avro.FinishReason.STOP;
            case LENGTH -> dev.mgmstream.schemas.avro.FinishReason.LENGTH;
        };
    }

    private static String shorten(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
