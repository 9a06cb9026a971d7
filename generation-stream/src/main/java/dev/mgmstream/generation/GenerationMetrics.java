package dev.mgmstream.generation;

import dev.mgmstream.schemas.avro.AnswerStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The generator's share of the stage's metrics: tasks by outcome, images made, time in the generator. */
public final class GenerationMetrics {

    private final Map<AnswerStatus, Counter> answers = new EnumMap<>(AnswerStatus.class);
    private final Counter images;
    private final Timer generate;

    public GenerationMetrics(MeterRegistry registry) {
        for (AnswerStatus s : AnswerStatus.values()) {
            answers.put(s, Counter.builder("mgm.generation.answers").tag("status", s.name().toLowerCase())
                    .description("Answers written by the generation stage, by status").register(registry));
        }
        images = Counter.builder("mgm.generation.images").description("Images generated").register(registry);
        generate = Timer.builder("mgm.generation.generate")
                .description("Time in the generator per micro-batch (text encoders, sampling, VAE decoding)")
                .register(registry);
    }

    void answer(AnswerStatus status) {
        answers.get(status).increment();
    }

    void generated(int count, long nanos) {
        images.increment(count);
        generate.record(nanos, TimeUnit.NANOSECONDS);
    }

    public double answers(AnswerStatus status) {
        return answers.get(status).count();
    }

    public double images() {
        return images.count();
    }
}
