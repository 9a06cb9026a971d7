package dev.mgmstream.generation;

import dev.mgmstream.store.FolderObjectStore;
import dev.mgmstream.store.ObjectStore;
import dev.mgmstream.model.diffusion.GeneratorManifest;
import dev.mgmstream.model.diffusion.TextToImage;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.stage.DeadLetterEncoder;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.RejectedRecord;
import dev.mgmstream.pipeline.stage.RejectionHook;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageDefinition;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.pipeline.stage.StageRunner;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerde;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The generation stage, wired: {@code generation-requests} in; {@code generated-images} and the tasks'
 * final {@code answers} out; records it cannot use to {@code dlq.generation}, with a rejected Answer for
 * the task of each. {@link #main(String[])} runs it as a process of its own.
 */
public final class GenerationStage implements AutoCloseable {

    public static final String NAME = "generation";

    private static final Logger log = LoggerFactory.getLogger(GenerationStage.class);

    private final TextToImage generator;
    private final ObjectStore images;
    private final GenerationMetrics metrics;
    private final StageDefinition<String, GenerationRequest> definition;

    private GenerationStage(TextToImage generator, ObjectStore images, GenerationMetrics metrics,
                            StageDefinition<String, GenerationRequest> definition) {
        this.generator = generator;
        this.images = images;
        this.metrics = metrics;
        this.definition = definition;
    }

    /** Every documented key this stage reads besides the topic catalogue's and the registry client's. */
    public static List<ConfigKey> configKeys() {
        List<ConfigKey> keys = new ArrayList<>(StageSettings.KEYS);
        keys.addAll(GenerationConfig.KEYS);
        return List.copyOf(keys);
    }

    /** True when the configured folder holds a generator export (the CLI runs the stage only then). */
    public static boolean modelPresent(Map<String, String> config) {
        return GeneratorManifest.isGenerator(new GenerationConfig(config).modelDir());
    }

    public static GenerationStage open(Map<String, String> config, SchemaRegistryClient registry, MeterRegistry meters) {
        GenerationConfig gc = new GenerationConfig(config);
        TextToImage generator = TextToImage.load(GeneratorManifest.load(gc.modelDir()), gc.engine());
        try {
            ObjectStore images = new FolderObjectStore(gc.imagesDir());
            return open(config, gc, generator, images, registry, meters);
        } catch (IOException e) {
            generator.close();
            throw new UncheckedIOException("cannot open the images folder " + gc.imagesDir(), e);
        } catch (RuntimeException e) {
            generator.close();
            throw e;
        }
    }

    static GenerationStage open(Map<String, String> config, GenerationConfig gc, TextToImage generator,
                                ObjectStore images, SchemaRegistryClient registry, MeterRegistry meters) {
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        Map<String, Object> serdeConfig = new HashMap<>(config);
        AvroSerde<GenerationRequest> requests = AvroSerdes.valueSerde(topics.spec(TopicRole.GENERATION_REQUESTS),
                GenerationRequest.class, registry, serdeConfig);
        AvroSerde<GeneratedImage> generated = AvroSerdes.valueSerde(topics.spec(TopicRole.GENERATED_IMAGES),
                GeneratedImage.class, registry, serdeConfig);
        AvroSerde<Answer> answers = AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class, registry,
                serdeConfig);
        AvroSerde<Rejection> rejections = AvroSerdes.valueSerde(topics.spec(TopicRole.DLQ_GENERATION),
                Rejection.class, registry, serdeConfig);
        StringSerializer keys = new StringSerializer();
        OutputTopic<String, GeneratedImage> generatedTopic = new OutputTopic<>(topics.name(TopicRole.GENERATED_IMAGES),
                keys, generated.serializer());
        OutputTopic<String, Answer> answerTopic = new OutputTopic<>(topics.name(TopicRole.ANSWERS), keys,
                answers.serializer());
        GenerationMetrics metrics = new GenerationMetrics(meters);
        GenerationBatch batch = new GenerationBatch(generator, images, gc, generatedTopic, answerTopic, metrics);
        StageDefinition<String, GenerationRequest> definition = StageDefinition.<String, GenerationRequest>builder(NAME)
                .setInput(List.of(topics.name(TopicRole.GENERATION_REQUESTS)), new StringDeserializer(),
                        requests.deserializer())
                .setBatchFunction(batch)
                .setDeadLetterTopic(topics.name(TopicRole.DLQ_GENERATION))
                .optDeadLetterEncoder(DeadLetterEncoder.avro(rejections.serializer(), true))
                .optRejectionHook(rejectedAnswers(answerTopic, metrics))
                .build();
        log.info("Generation stage ready: {} ({}x{} px) on {}, images into {}", generator.modelId(),
                generator.manifest().image().width(), generator.manifest().image().height(), gc.engine().provider(),
                gc.imagesDir().toAbsolutePath());
        return new GenerationStage(generator, images, metrics, definition);
    }

    /** A rejected request still ends its task: an Answer REJECTED with the reason. */
    static RejectionHook<String, GenerationRequest> rejectedAnswers(OutputTopic<String, Answer> answers,
                                                                   GenerationMetrics metrics) {
        return (rejected, decoded) -> {
            String simple = rejected.errorClass().substring(rejected.errorClass().lastIndexOf('.') + 1);
            String reason = "the generation stage could not process the task (" + simple
                    + (rejected.errorMessage() == null ? "" : ": " + rejected.errorMessage()) + ")";
            if (decoded.isEmpty()) {
                return undecoded(rejected, reason, answers, metrics);
            }
            InputRecord<String, GenerationRequest> in = decoded.get();
            metrics.answer(AnswerStatus.REJECTED);
            return List.of(new Output<>(rejected.index(), answers, in.value().getTaskId(),
                    GenerationBatch.answer(in.value(), AnswerStatus.REJECTED)
                            .setReason(reason)
                            .setLatencies(GenerationBatch.latencies(in, System.currentTimeMillis()))
                            .build()));
        };
    }

    /**
     * The answer for a request whose value did not decode: reasoning keys each request by its task id, so the
     * key still names the task (or a task-ids header, should a writer add one), and the task still ends.
     */
    private static List<Output<?, ?>> undecoded(RejectedRecord rejected, String reason,
                                                OutputTopic<String, Answer> answers, GenerationMetrics metrics) {
        List<String> taskIds = rejected.key() != null && rejected.key().length > 0
                ? List.of(new String(rejected.key(), StandardCharsets.UTF_8))
                : TaskIdsHeader.decode(rejected.headers().get(TaskIdsHeader.NAME));
        List<Output<?, ?>> out = new ArrayList<>(taskIds.size());
        for (String taskId : taskIds) {
            metrics.answer(AnswerStatus.REJECTED);
            out.add(new Output<>(rejected.index(), answers, taskId, Answer.newBuilder()
                    .setTaskId(taskId)
                    .setStatus(AnswerStatus.REJECTED)
                    .setReason(reason)
                    .build()));
        }
        return out;
    }

    public StageDefinition<String, GenerationRequest> definition() {
        return definition;
    }

    public GenerationMetrics metrics() {
        return metrics;
    }

    public Stage<String, GenerationRequest> start(StageSettings settings, MeterRegistry registry) {
        return Stage.start(new Stage<>(definition, settings, registry, StageListener.NONE));
    }

    public int runUntilStopped(StageSettings settings, PrometheusMeterRegistry registry) {
        return StageRunner.runUntilStopped(definition, settings, registry);
    }

    @Override
    public void close() {
        generator.close();
        images.close();
    }

    public static void main(String[] args) {
        Map<String, String> config = LayeredConfig.resolve(configKeys(), LayeredConfig.parseFlags(args));
        StageSettings settings = StageSettings.from(NAME, config);
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        int code;
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             GenerationStage stage = open(config, registry, meters)) {
            code = stage.runUntilStopped(settings, meters);
        }
        System.exit(code);
    }
}
