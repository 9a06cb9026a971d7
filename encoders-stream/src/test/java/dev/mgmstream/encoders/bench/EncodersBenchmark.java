package dev.mgmstream.encoders.bench;

import dev.mgmstream.encoders.EncoderMetrics;
import dev.mgmstream.encoders.EncoderMetrics.Step;
import dev.mgmstream.encoders.EncodersConfig;
import dev.mgmstream.encoders.EncodersStage;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.vision.DecodeLimits;
import dev.mgmstream.model.vision.GoldenScenes;
import dev.mgmstream.model.vision.ImageDecoder;
import dev.mgmstream.model.vision.PixelViews;
import dev.mgmstream.model.vision.VisionEncoder;
import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.registry.RegistryServerConfig;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageListener;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.InlineImage;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Images per second of the encoders stage at batch sizes 1, 8 and 32 on the CPU with mgm-tiny, on the
 * in-process broker and registry; where a batch's time goes; and, in the same run and JVM, the bare
 * ONNX Runtime compute (LR encoder, HR encoder, mining and projector on already preprocessed pixels) at
 * the same batch size, so that the stage's overhead shows as a ratio.
 *
 * <p>Every task carries a distinct image (a golden scene with one pixel changed), so the cache never
 * answers and every task costs an encoding. Per batch size: a warm-up of one batch through the running
 * stage, then the clock runs from producing the measured tasks to the commit of the last one.
 *
 * <p>Arguments: images per batch size for 1, 8 and 32 (default {@code 24 64 128}).
 */
public final class EncodersBenchmark {

    private EncodersBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int[] sizes = {1, 8, 32};
        int[] counts = {24, 64, 128};
        for (int i = 0; i < args.length && i < 3; i++) {
            counts[i] = Integer.parseInt(args[i]);
        }
        Path modelDir = GoldenScenes.modelDir("mgm-tiny");
        GoldenScenes golden = new GoldenScenes(modelDir);
        List<byte[]> pngs = new ArrayList<>();
        for (GoldenScenes.Scene s : golden.scenes()) {
            pngs.add(Files.readAllBytes(s.image()));
        }
        String bootstrap = SharedKafka.bootstrapServers();
        Path store = Files.createTempDirectory("encoders-bench");
        StringBuilder report = new StringBuilder();
        report.append(String.format("%-6s %10s %12s %8s | ms per image: %7s %7s %7s %7s %7s %7s %7s%n",
                "batch", "stage im/s", "bare ORT im/s", "ratio", "load", "decode", "prepro", "LR", "HR", "mining", "serial"));
        int variant = 0;
        try (InProcessSchemaRegistry registry = InProcessSchemaRegistry.start(RegistryServerConfig.of(bootstrap, 0)
                .withTopic("_schemas-bench-" + UUID.randomUUID()));
             SchemaRegistryClient client = HttpSchemaRegistryClient.fromConfig(Map.of("schema.registry.url", registry.url()));
             VisionEncoder bare = VisionEncoder.load(ModelManifest.load(modelDir), EngineOptions.cpu(2))) {
            for (int k = 0; k < sizes.length; k++) {
                int b = sizes[k];
                int n = counts[k];
                List<byte[]> warm = variants(pngs, variant, b);
                variant += b;
                List<byte[]> measured = variants(pngs, variant, n);
                variant += n;

                Map<String, String> config = new HashMap<>();
                config.put("bootstrap.servers", bootstrap);
                config.put("schema.registry.url", registry.url());
                config.put("topics.prefix", "bench-" + UUID.randomUUID().toString().substring(0, 8) + ".");
                config.put("topics.partitions", "1");
                config.put("stage.batch.max.size", Integer.toString(b));
                config.put("stage.batch.linger.ms", "50");
                config.put("stage.instance.id", UUID.randomUUID().toString());
                config.put(EncodersConfig.MODEL_DIR.name(), modelDir.toString());
                config.put(EncodersConfig.ENGINE_INTRA_THREADS.name(), "2");
                config.put(EncodersConfig.STORE_URI.name(), store.toString());
                config.put(EncodersConfig.S3_ENABLED.name(), "false");
                try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
                    new TopicProvisioner(admin).ensure(TopicCatalogue.fromConfig(config).all());
                }
                SimpleMeterRegistry meters = new SimpleMeterRegistry();
                AtomicInteger committed = new AtomicInteger();
                double stageRate;
                Map<Step, Double> split = new EnumMap<>(Step.class);
                try (EncodersStage encoders = EncodersStage.open(config, client, meters);
                     Stage<String, ImageTask> stage = encoders.start(EncodersStage.settings(config), meters,
                             new StageListener() {
                                 @Override
                                 public void afterCommit(int inputs, int records) {
                                     committed.addAndGet(inputs);
                                 }
                             })) {
                    produce(config, client, warm);
                    waitFor(committed, b);
                    EncoderMetrics m = encoders.metrics();
                    Map<Step, Double> before = new EnumMap<>(Step.class);
                    for (Step s : Step.values()) {
                        before.put(s, m.seconds(s));
                    }
                    long t0 = System.nanoTime();
                    produce(config, client, measured);
                    waitFor(committed, b + n);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    stageRate = n / seconds;
                    for (Step s : Step.values()) {
                        split.put(s, (m.seconds(s) - before.get(s)) * 1000 / n);
                    }
                }
                double bareRate = bareRate(bare, measured, b);
                report.append(String.format("%-6d %10.2f %12.2f %8.2f | %13s %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.2f%n",
                        b, stageRate, bareRate, stageRate / bareRate, "", split.get(Step.LOAD), split.get(Step.DECODE),
                        split.get(Step.PREPROCESS), split.get(Step.LR), split.get(Step.HR), split.get(Step.MINING),
                        split.get(Step.SERIALISE)));
                System.out.print(report);
            }
        }
        System.out.println();
        System.out.println("Encoders stage vs bare ONNX Runtime compute, mgm-tiny on CPU (2 intra-op threads)");
        System.out.print(report);
        System.exit(0);
    }

    /** Bare compute: the same images, preprocessed beforehand, through the vision graphs in batches of {@code b}. */
    private static double bareRate(VisionEncoder encoder, List<byte[]> images, int b) throws Exception {
        ImageDecoder decoder = new ImageDecoder(DecodeLimits.DEFAULT);
        List<PixelViews> views = new ArrayList<>();
        for (byte[] img : images) {
            views.add(encoder.preprocessor().apply(decoder.decode(img)));
        }
        encoder.encode(views.subList(0, b)); // warm-up at this batch shape
        long t0 = System.nanoTime();
        for (int i = 0; i < views.size(); i += b) {
            encoder.encode(views.subList(i, Math.min(views.size(), i + b)));
        }
        return views.size() / ((System.nanoTime() - t0) / 1e9);
    }

    /** Distinct PNGs: golden scenes with one pixel set from the variant number, so no two share a SHA-256. */
    private static List<byte[]> variants(List<byte[]> pngs, int first, int count) throws Exception {
        List<byte[]> out = new ArrayList<>();
        for (int i = first; i < first + count; i++) {
            BufferedImage img = ImageIO.read(new java.io.ByteArrayInputStream(pngs.get(i % pngs.size())));
            img.setRGB(i % img.getWidth(), (i / img.getWidth()) % img.getHeight(), 0x010203 * (i % 80));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            ImageIO.write(img, "png", bytes);
            out.add(bytes.toByteArray());
        }
        return out;
    }

    private static void produce(Map<String, String> config, SchemaRegistryClient client, List<byte[]> images) {
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        try (KafkaProducer<String, ImageTask> p = new KafkaProducer<>(
                Map.of("bootstrap.servers", config.get("bootstrap.servers"), "max.request.size", 8 << 20,
                        "linger.ms", 5),
                new StringSerializer(), AvroSerdes.valueSerde(topics.spec(TopicRole.IMAGE_TASKS), ImageTask.class,
                        client, Map.of()).serializer())) {
            for (byte[] img : images) {
                String id = UUID.randomUUID().toString();
                p.send(new ProducerRecord<>(topics.name(TopicRole.IMAGE_TASKS), id, ImageTask.newBuilder()
                        .setTaskId(id)
                        .setImage(InlineImage.newBuilder().setData(ByteBuffer.wrap(img)).setMediaType("image/png").build())
                        .setKind(TaskKind.CAPTION)
                        .setSubmittedAt(Instant.now())
                        .build()));
            }
            p.flush();
        }
    }

    private static void waitFor(AtomicInteger committed, int target) throws InterruptedException {
        long deadline = System.nanoTime() + 600_000_000_000L;
        while (committed.get() < target) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("stage committed " + committed.get() + " of " + target + " in 10 min");
            }
            Thread.sleep(20);
        }
    }
}
