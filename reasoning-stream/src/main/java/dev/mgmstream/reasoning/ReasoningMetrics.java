package dev.mgmstream.reasoning;

import dev.mgmstream.model.lm.GenerationStats;
import dev.mgmstream.schemas.avro.AnswerStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The language model's share of the stage's metrics (the runtime has the records and batches): tasks by
 * outcome, generated tokens, and where model time goes (prefill, decode steps, KV-cache re-packing).
 */
public final class ReasoningMetrics {

    private final Map<AnswerStatus, Counter> answers = new EnumMap<>(AnswerStatus.class);
    private final Counter generationRequests;
    private final Counter promptTokens;
    private final Counter generatedTokens;
    private final Timer prefill;
    private final Timer decode;
    private final Timer repack;

    public ReasoningMetrics(MeterRegistry registry) {
        for (AnswerStatus s : AnswerStatus.values()) {
            answers.put(s, Counter.builder("mgm.reasoning.answers").tag("status", s.name().toLowerCase())
                    .description("Answers written by the reasoning stage, by status").register(registry));
        }
        generationRequests = Counter.builder("mgm.reasoning.generation.requests")
                .description("Generation requests written for generate tasks").register(registry);
        promptTokens = Counter.builder("mgm.reasoning.prompt.tokens")
                .description("Prompt tokens fed to the language model, visual tokens included").register(registry);
        generatedTokens = Counter.builder("mgm.reasoning.generated.tokens")
                .description("Tokens the language model generated").register(registry);
        prefill = Timer.builder("mgm.reasoning.prefill").description("Time in prefill forwards").register(registry);
        decode = Timer.builder("mgm.reasoning.decode").description("Time in decode steps").register(registry);
        repack = Timer.builder("mgm.reasoning.kv.repack")
                .description("Time re-packing the KV cache when sequences join or leave").register(registry);
    }

    void answer(AnswerStatus status) {
        answers.get(status).increment();
    }

    void generationRequest() {
        generationRequests.increment();
    }

    void generated(GenerationStats delta, long prompt) {
        promptTokens.increment(prompt);
        generatedTokens.increment(delta.generatedTokens());
        prefill.record(delta.prefillNanos(), TimeUnit.NANOSECONDS);
        decode.record(delta.decodeNanos(), TimeUnit.NANOSECONDS);
        repack.record(delta.repackNanos(), TimeUnit.NANOSECONDS);
    }

    public double answers(AnswerStatus status) {
        return answers.get(status).count();
    }

    public double generatedTokens() {
        return generatedTokens.count();
    }
}
