package dev.mgmstream.ingest;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes tasks to the image-tasks topic, keyed by task id, with an idempotent producer.
 *
 * <pre>{@code
 * try (TaskPublisher publisher = new TaskPublisher(config, registry)) {
 *     ImageTask task = publisher.prepare(spec, folder);   // IOException: the image cannot be read
 *     publisher.send(task).join();
 * }
 * }</pre>
 */
public final class TaskPublisher implements AutoCloseable {

    private final IngestSettings settings;
    private final String topic;
    private final KafkaProducer<String, ImageTask> producer;

    public TaskPublisher(Map<String, String> config, SchemaRegistryClient registry) {
        this.settings = IngestSettings.from(config);
        TopicSpec spec = TopicCatalogue.fromConfig(config).spec(TopicRole.IMAGE_TASKS);
        this.topic = spec.name();
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.parseInt(spec.config("max.message.bytes")));
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "mgm-ingest");
        p.putAll(KafkaClientConfigs.passThrough(config, KafkaClientConfigs.Kind.PRODUCER)); // TLS, SASL...
        this.producer = new KafkaProducer<>(p, new StringSerializer(),
                AvroSerdes.valueSerde(spec, ImageTask.class, registry, config).serializer());
    }

    /** The record for a task; local images are read (and inlined when small) now. */
    public ImageTask prepare(TaskSpec spec, Path folder) throws IOException {
        ImageRef.Resolved image = ImageRef.resolve(spec.image(), folder, settings.inlineMaxBytes());
        return ImageTask.newBuilder()
                .setTaskId(spec.taskId())
                .setImageId(image.imageId())
                .setImage(image.image())
                .setKind(spec.kind())
                .setPrompt(spec.prompt())
                .setOptions(spec.options())
                .setSubmittedAt(Instant.now())
                .setAttributes(spec.attributes())
                .build();
    }

    public CompletableFuture<Void> send(ImageTask task) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        producer.send(new ProducerRecord<>(topic, task.getTaskId(), task), (meta, error) -> {
            if (error != null) {
                done.completeExceptionally(error);
            } else {
                done.complete(null);
            }
        });
        return done;
    }

    public void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        producer.close();
    }
}
