package dev.mgmstream.generation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.RejectedRecord;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** The generation stage's rejection hook: every rejected request ends its task, even one that does not decode. */
class RejectedAnswersTest {

    static final OutputTopic<String, Answer> ANSWERS = new OutputTopic<>("answers", new StringSerializer(),
            (topic, value) -> new byte[0]);

    @Test
    void aRequestWhoseValueDoesNotDecodeIsAnsweredUnderItsKeyWhichIsItsTaskId() {
        GenerationMetrics metrics = new GenerationMetrics(new SimpleMeterRegistry());
        RejectedRecord corrupt = new RejectedRecord(2, "generation", "generation-requests", 0, 11,
                "task-9".getBytes(StandardCharsets.UTF_8), new byte[] {0, 0, 0, 0, 5, -1, -1},
                "org.apache.kafka.common.errors.SerializationException", "Could not read a record", Instant.now(), 1);

        List<Output<?, ?>> out = GenerationStage.rejectedAnswers(ANSWERS, metrics).onRejected(corrupt, Optional.empty());

        assertThat(out).singleElement().satisfies(o -> {
            assertThat(o.source()).isEqualTo(2);
            assertThat(o.key()).isEqualTo("task-9");
            Answer a = (Answer) o.value();
            assertThat(a.getTaskId()).isEqualTo("task-9");
            assertThat(a.getStatus()).isEqualTo(AnswerStatus.REJECTED);
            assertThat(a.getReason()).isEqualTo("the generation stage could not process the task "
                    + "(SerializationException: Could not read a record)");
        });
    }
}
