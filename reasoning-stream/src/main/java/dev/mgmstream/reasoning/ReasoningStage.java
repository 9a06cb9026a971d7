package dev.mgmstream.reasoning;

import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.stage.DeadLetterEncoder;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageDefinition;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.pipeline.stage.StageRunner;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.GenerationRequest;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerde;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reasoning stage, wired: {@code visual-tokens} in; {@code answers} and {@code generation-requests}
 * out; records it cannot use to {@code dlq.reasoning}, with a rejected Answer for each of their tasks.
 *
 * <p>What the CLI calls:
 * <pre>{@code
 * Map<String, String> config = LayeredConfig.resolve(ReasoningStage.configKeys(), flags);
 * try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
 *      ReasoningStage reasoning = ReasoningStage.open(config, registry, meters)) {
 *     Stage<String, VisualTokens> stage = reasoning.start(StageSettings.from(ReasoningStage.NAME, config), meters);
 *     ...
 * }
 * }</pre>
 * or {@link #open(Map, SchemaRegistryClient, MeterRegistry, ClaimCheckReader)} to read claim checks from
 * the encoders' object store (for example {@code encoders.store()::get}), and {@link #main(String[])} for a
 * process that is only this stage.
 */
public final class ReasoningStage implements AutoCloseable {

    public static final String NAME = "reasoning";

    private static final Logger log = LoggerFactory.getLogger(ReasoningStage.class);

    private final ReasoningModels models;
    private final ReasoningMetrics metrics;
    private final StageDefinition<String, VisualTokens> definition;
    private final ReasoningBatch batch;
    private final AutoCloseable ownedReader;

    private ReasoningStage(ReasoningModels models, ReasoningMetrics metrics,
                           StageDefinition<String, VisualTokens> definition, ReasoningBatch batch,
                           AutoCloseable ownedReader) {
        this.models = models;
        this.metrics = metrics;
        this.definition = definition;
        this.batch = batch;
        this.ownedReader = ownedReader;
    }

    /** Every documented key this stage reads besides the topic catalogue's and the registry client's. */
    public static List<ConfigKey> configKeys() {
        List<ConfigKey> keys = new ArrayList<>(StageSettings.KEYS);
        keys.addAll(ReasoningConfig.KEYS);
        return List.copyOf(keys);
    }

    /** Loads the models named by {@code reasoning.model.dirs}; claim checks are read under the configured roots. */
    public static ReasoningStage open(Map<String, String> config, SchemaRegistryClient registry, MeterRegistry meters) {
        return open(config, registry, meters, null);
    }

    /**
     * @param claimChecks reads claim-check URIs; null means {@code file:} and {@code s3://} URIs under
     *                    {@code reasoning.claim.check.roots}
     */
    public static ReasoningStage open(Map<String, String> config, SchemaRegistryClient registry, MeterRegistry meters,
                                      ClaimCheckReader claimChecks) {
        ReasoningConfig rc = new ReasoningConfig(config);
        ReasoningModels models = ReasoningModels.load(rc.modelDirs(), rc.engine());
        try {
            return open(config, rc, models, registry, meters, claimChecks);
        } catch (RuntimeException e) {
            models.close();
            throw e;
        }
    }

    /** With models already loaded (tests, the benchmark); the stage closes them when it closes. */
    static ReasoningStage open(Map<String, String> config, ReasoningConfig rc, ReasoningModels models,
                               SchemaRegistryClient registry, MeterRegistry meters, ClaimCheckReader claimChecks) {
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        Map<String, Object> serdeConfig = new HashMap<>(config);
        AvroSerde<VisualTokens> tokens = AvroSerdes.valueSerde(topics.spec(TopicRole.VISUAL_TOKENS),
                VisualTokens.class, registry, serdeConfig);
        AvroSerde<Answer> answers = AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class, registry,
                serdeConfig);
        AvroSerde<GenerationRequest> requests = AvroSerdes.valueSerde(topics.spec(TopicRole.GENERATION_REQUESTS),
                GenerationRequest.class, registry, serdeConfig);
        AvroSerde<Rejection> rejections = AvroSerdes.valueSerde(topics.spec(TopicRole.DLQ_REASONING),
                Rejection.class, registry, serdeConfig);
        StringSerializer keys = new StringSerializer();
        OutputTopic<String, Answer> answerTopic = new OutputTopic<>(topics.name(TopicRole.ANSWERS), keys,
                answers.serializer());
        OutputTopic<String, GenerationRequest> requestTopic = new OutputTopic<>(
                topics.name(TopicRole.GENERATION_REQUESTS), keys, requests.serializer());
        ReasoningMetrics metrics = new ReasoningMetrics(meters);
        ClaimCheckReader reader = claimChecks != null ? claimChecks : ClaimChecks.fromConfig(rc);
        ReasoningBatch batch = new ReasoningBatch(models, reader, rc, answerTopic, requestTopic, metrics);
        StageDefinition<String, VisualTokens> definition = StageDefinition.<String, VisualTokens>builder(NAME)
                .setInput(List.of(topics.name(TopicRole.VISUAL_TOKENS)), new StringDeserializer(), tokens.deserializer())
                .setBatchFunction(batch)
                .setDeadLetterTopic(topics.name(TopicRole.DLQ_REASONING))
                .optDeadLetterEncoder(DeadLetterEncoder.avro(rejections.serializer(), false))
                .optRejectionHook(ReasoningRejections.answers(answerTopic, metrics))
                .build();
        log.info("Reasoning stage ready: models {} on {} (decoder: {}), {} batching over {} slots x {} generator(s), "
                        + "generate tasks -> {}", models.ids(), rc.engine().provider(),
                models.ids().stream().map(id -> models.get(id).orElseThrow().decoderBackend()).distinct().toList(),
                rc.batching().mode(), rc.batching().slots(), rc.workers(), rc.generateOutput());
        return new ReasoningStage(models, metrics, definition, batch,
                reader instanceof AutoCloseable c && claimChecks == null ? c : () -> { });
    }

    public StageDefinition<String, VisualTokens> definition() {
        return definition;
    }

    public ReasoningMetrics metrics() {
        return metrics;
    }

    public ReasoningModels models() {
        return models;
    }

    /** Runs the stage on its own thread. */
    public Stage<String, VisualTokens> start(StageSettings settings, MeterRegistry registry) {
        return start(settings, registry, StageListener.NONE);
    }

    public Stage<String, VisualTokens> start(StageSettings settings, MeterRegistry registry, StageListener listener) {
        return Stage.start(new Stage<>(definition, settings, registry, listener));
    }

    /** Runs the stage on the calling thread until SIGTERM; returns the process exit code. */
    public int runUntilStopped(StageSettings settings, PrometheusMeterRegistry registry) {
        return StageRunner.runUntilStopped(definition, settings, registry);
    }

    @Override
    public void close() {
        batch.close();
        models.close();
        try {
            ownedReader.close();
        } catch (Exception e) {
            log.warn("closing the claim-check reader: {}", e.toString());
        }
    }

    /** The stage as a process of its own: configuration from defaults, file, {@code MGM_*} environment and flags. */
    public static void main(String[] args) {
        Map<String, String> config = LayeredConfig.resolve(configKeys(), LayeredConfig.parseFlags(args));
        StageSettings settings = StageSettings.from(NAME, config);
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        int code;
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             ReasoningStage stage = open(config, registry, meters)) {
            code = stage.runUntilStopped(settings, meters);
        }
        System.exit(code);
    }
}
