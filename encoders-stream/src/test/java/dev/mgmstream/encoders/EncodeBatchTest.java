package dev.mgmstream.encoders;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpServer;

import dev.mgmstream.encoders.cache.VisualTokenCache;
import dev.mgmstream.encoders.source.FileSource;
import dev.mgmstream.encoders.source.HttpSource;
import dev.mgmstream.encoders.source.ImageLoader;
import dev.mgmstream.encoders.source.ImageSource;
import dev.mgmstream.store.FolderObjectStore;
import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.vision.GoldenScenes;
import dev.mgmstream.model.vision.HostileCorpus;
import dev.mgmstream.model.vision.ImageDecoder;
import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.TensorBytes;
import dev.mgmstream.model.vision.VisionEncoder;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InfrastructureErrors;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Reject;
import dev.mgmstream.pipeline.stage.TransientBatchException;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batch function on its own, with the real model and no broker: the hostile corpus, golden parity of
 * what goes on the wire, one encoding per image per batch, the cache, and the claim check.
 */
class EncodeBatchTest {

    static VisionEncoder encoder;
    static ExecutorService pool;
    static GoldenScenes golden;

    @TempDir
    static Path tmp;

    final OutputTopic<String, VisualTokens> tokensTopic = new OutputTopic<>("visual-tokens", new StringSerializer(),
            (topic, v) -> new byte[0]);
    final OutputTopic<String, VisualTokens> cacheTopic = new OutputTopic<>("visual-token-cache", new StringSerializer(),
            (topic, v) -> new byte[0]);

    @BeforeAll
    static void load() {
        Path dir = GoldenScenes.modelDir("mgm-tiny");
        encoder = VisionEncoder.load(ModelManifest.load(dir), EngineOptions.cpu(2));
        golden = new GoldenScenes(dir);
        pool = Executors.newFixedThreadPool(2);
    }

    @AfterAll
    static void close() {
        pool.shutdownNow();
        if (encoder != null) {
            encoder.close();
        }
    }

    private record Fixture(EncodeBatch batch, EncoderMetrics metrics, VisualTokenCache cache) {}

    private Fixture fixture(long inlineMax, Path store, Map<String, ImageSource> sources) throws Exception {
        EncoderMetrics metrics = new EncoderMetrics(new SimpleMeterRegistry());
        VisualTokenCache cache = new VisualTokenCache("visual-token-cache", (t, b) -> null, tmp.resolve("cache-state"),
                VisualTokenCache.DEFAULT_MEMORY_BYTES);
        EncodeBatch batch = new EncodeBatch(new ImageLoader(sources, HostileCorpus.LIMITS.maxBytes()),
                new ImageDecoder(HostileCorpus.LIMITS), encoder, cache,
                new TokenWriter("float16", inlineMax, new FolderObjectStore(store)), tokensTopic, cacheTopic,
                metrics, pool);
        return new Fixture(batch, metrics, cache);
    }

    private Fixture fixture() throws Exception {
        return fixture(1 << 20, tmp.resolve("store"), Map.of());
    }

    static List<InputRecord<String, ImageTask>> records(List<ImageTask> tasks) {
        List<InputRecord<String, ImageTask>> out = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            out.add(Tasks.record(i, tasks.get(i)));
        }
        return out;
    }

    static List<VisualTokens> tokens(List<Emitted> emitted, String topic) {
        List<VisualTokens> out = new ArrayList<>();
        for (Emitted e : emitted) {
            if (e instanceof Output<?, ?> o && o.topic().name().equals(topic)) {
                out.add((VisualTokens) o.value());
            }
        }
        return out;
    }

    static Map<Integer, ImageRejectedException> rejects(List<Emitted> emitted) {
        Map<Integer, ImageRejectedException> out = new HashMap<>();
        for (Emitted e : emitted) {
            if (e instanceof Reject r) {
                out.put(r.source(), (ImageRejectedException) r.reason());
            }
        }
        return out;
    }

    @Test
    void everyCorpusFileIsEncodedOrRejectedForItsReasonAndNoTaskIsLost() throws Exception {
        Fixture f = fixture();
        List<HostileCorpus.Sample> corpus = HostileCorpus.all();
        List<ImageTask> tasks = new ArrayList<>();
        for (int i = 0; i < corpus.size(); i++) {
            tasks.add(Tasks.inline("corpus-" + i, corpus.get(i).bytes(), null));
        }
        List<Emitted> out = f.batch().apply(records(tasks));

        Map<Integer, ImageRejectedException> rejected = rejects(out);
        Set<String> answered = new HashSet<>();
        for (VisualTokens vt : tokens(out, "visual-tokens")) {
            assertThat(vt.getShape()).containsExactly(9, 128);
            assertThat(vt.getPayload().remaining()).isEqualTo(9 * 128 * 2);
            vt.getTasks().forEach(t -> answered.add(t.getTaskId()));
        }
        for (int i = 0; i < corpus.size(); i++) {
            HostileCorpus.Sample s = corpus.get(i);
            if (s.expect().encoded()) {
                assertThat(answered).as(s.kind()).contains("corpus-" + i);
                assertThat(rejected).as(s.kind()).doesNotContainKey(i);
            } else {
                assertThat(rejected).as(s.kind()).containsKey(i);
                assertThat(rejected.get(i).reason()).as(s.kind() + ": " + rejected.get(i).getMessage())
                        .isIn(s.expect().reasons());
                assertThat(answered).doesNotContain("corpus-" + i);
            }
        }
        assertThat(answered.size() + rejected.size()).as("every task has an outcome").isEqualTo(corpus.size());
        assertThat(f.metrics().imagesEncoded()).isEqualTo(tokens(out, "visual-token-cache").size());
    }

    @Test
    void visualTokensOnTheWireMatchPythonWithinHalfPrecision() throws Exception {
        Fixture f = fixture();
        List<ImageTask> tasks = new ArrayList<>();
        for (GoldenScenes.Scene s : golden.scenes()) {
            tasks.add(Tasks.inline(s.id(), Files.readAllBytes(s.image()), null));
        }
        List<VisualTokens> out = tokens(f.batch().apply(records(tasks)), "visual-tokens");
        assertThat(out).hasSize(golden.scenes().size());
        for (VisualTokens vt : out) {
            GoldenScenes.Scene s = golden.scenes().stream()
                    .filter(x -> x.id().equals(vt.getTasks().get(0).getTaskId())).findFirst().orElseThrow();
            float[] want = golden.tensor(s, "visual_tokens");
            float[] got = TensorBytes.decode(bytes(vt.getPayload()), vt.getDtype());
            assertThat(vt.getDtype()).isEqualTo("float16");
            GoldenScenes.assertFloat16Tokens(s.id(), got, want);
        }
    }

    @Test
    void tasksOnOneImageInOneBatchShareOneEncoding() throws Exception {
        Fixture f = fixture();
        byte[] image = Files.readAllBytes(golden.scenes().get(1).image());
        byte[] other = Files.readAllBytes(golden.scenes().get(2).image());
        List<Emitted> out = f.batch().apply(records(List.of(
                Tasks.inline("a", image, "What colour is the circle?"),
                Tasks.inline("b", other, null),
                Tasks.inline("c", image, "How many shapes are there?"),
                Tasks.inline("d", image, null))));
        List<VisualTokens> tokens = tokens(out, "visual-tokens");
        assertThat(tokens).hasSize(2);
        assertThat(tokens.get(0).getTasks()).extracting(TaskRef::getTaskId).containsExactly("a", "c", "d");
        assertThat(tokens.get(0).getTasks().get(1).getPrompt()).isEqualTo("How many shapes are there?");
        assertThat(tokens.get(0).getTasks().get(0).getLatencies()).containsKey("encoders");
        assertThat(f.metrics().imagesEncoded()).isEqualTo(2);
        assertThat(f.metrics().sharedInBatch()).isEqualTo(2);
        assertThat(tokens(out, "visual-token-cache")).hasSize(2).allMatch(t -> t.getTasks().isEmpty());
    }

    @Test
    void theRecordsOfAnImageStandForEveryTaskOnItAndNameThemInAHeader() throws Exception {
        Fixture f = fixture();
        byte[] image = Files.readAllBytes(golden.scenes().get(1).image());
        byte[] other = Files.readAllBytes(golden.scenes().get(2).image());
        List<Emitted> out = f.batch().apply(records(List.of(
                Tasks.inline("a", image, null),
                Tasks.inline("b", other, null),
                Tasks.inline("c,with a comma", image, "How many shapes are there?"))));
        Map<String, List<Integer>> sources = new HashMap<>();
        for (Emitted e : out) {
            Output<?, ?> o = (Output<?, ?>) e;
            if (o.topic().name().equals("visual-tokens")) {
                VisualTokens vt = (VisualTokens) o.value();
                List<String> ids = vt.getTasks().stream().map(TaskRef::getTaskId).toList();
                assertThat(TaskIdsHeader.decode(o.headers().get(TaskIdsHeader.NAME))).isEqualTo(ids);
                sources.put("tokens " + ids, o.sources());
            } else {
                sources.put("cache " + o.key(), o.sources());
            }
        }
        String imageKey = VisualTokenCache.key(TokenWriter.sha256(image), encoder.manifest().modelId());
        String otherKey = VisualTokenCache.key(TokenWriter.sha256(other), encoder.manifest().modelId());
        assertThat(sources).containsOnly(
                Map.entry("tokens [a, c,with a comma]", List.of(0, 2)),
                Map.entry("cache " + imageKey, List.of(0, 2)),
                Map.entry("tokens [b]", List.of(1)),
                Map.entry("cache " + otherKey, List.of(1)));
    }

    @Test
    void anImageAlreadyEncodedIsServedFromTheCacheWithoutAnEncoderRun() throws Exception {
        Fixture f = fixture();
        byte[] image = Files.readAllBytes(golden.scenes().get(3).image());
        VisualTokens first = tokens(f.batch().apply(records(List.of(Tasks.inline("first", image, null)))),
                "visual-tokens").get(0);
        assertThat(f.metrics().imagesEncoded()).isEqualTo(1);

        List<Emitted> again = f.batch().apply(records(List.of(Tasks.inline("second", image, "Is there a sign?"))));
        assertThat(f.metrics().imagesEncoded()).as("no second encoder run").isEqualTo(1);
        assertThat(f.metrics().cacheHits()).isEqualTo(1);
        assertThat(tokens(again, "visual-token-cache")).as("nothing new to cache").isEmpty();
        VisualTokens second = tokens(again, "visual-tokens").get(0);
        assertThat(second.getTasks()).extracting(TaskRef::getTaskId).containsExactly("second");
        assertThat(second.getPayload()).isEqualTo(first.getPayload());
    }

    @Test
    void largeTokensGoToTheStoreUnderTheirContentAddress() throws Exception {
        Path store = tmp.resolve("claims");
        Fixture f = fixture(1000, store, Map.of());
        byte[] image = Files.readAllBytes(golden.scenes().get(4).image());
        VisualTokens vt = tokens(f.batch().apply(records(List.of(Tasks.inline("big", image, null)))),
                "visual-tokens").get(0);
        assertThat(vt.getPayload()).isNull();
        assertThat(vt.getClaimCheckUri()).startsWith("file:").endsWith(".float16");
        byte[] stored = Files.readAllBytes(Path.of(URI.create(vt.getClaimCheckUri())));
        assertThat(stored).hasSize(9 * 128 * 2);
        assertThat(vt.getClaimCheckUri()).contains(TokenWriter.sha256(stored));
        float[] want = golden.tensor(golden.scenes().get(4), "visual_tokens");
        float[] got = TensorBytes.decode(stored, "float16");
        GoldenScenes.assertFloat16Tokens("claim-checked tokens", got, want);
        assertThat(f.metrics().claimChecks()).isEqualTo(1);
    }

    @Test
    void aClaimCheckStoreThatCannotWriteRetriesTheBatchAndTheSameBatchGoesThroughOnceItCan() throws Exception {
        Path store = tmp.resolve("flapping-store");
        Fixture f = fixture(1000, store, Map.of());
        byte[] image = Files.readAllBytes(golden.scenes().get(6).image());
        List<InputRecord<String, ImageTask>> batch = records(List.of(Tasks.inline("claim", image, null)));
        // The store's folder for tokens is a file, as when a mount is replaced or a disk fills: no write succeeds.
        Files.writeString(store.resolve("tokens"), "in the way");

        Exception thrown = catchThrowableOfType(() -> f.batch().apply(batch), Exception.class);
        assertThat(thrown).isInstanceOf(TransientBatchException.class);
        assertThat(InfrastructureErrors.isTransient(thrown)).isTrue();

        Files.delete(store.resolve("tokens"));
        VisualTokens vt = tokens(f.batch().apply(batch), "visual-tokens").get(0);
        assertThat(vt.getTasks()).extracting(TaskRef::getTaskId).containsExactly("claim");
        assertThat(Path.of(URI.create(vt.getClaimCheckUri()))).isRegularFile();
    }

    @Test
    void anHttpServerThatIsBusyRetriesTheBatchAndItsTaskIsEncodedWhenItAnswers() throws Exception {
        byte[] image = Files.readAllBytes(golden.scenes().get(7).image());
        AtomicInteger calls = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/scene.png", ex -> {
            boolean busy = calls.incrementAndGet() == 1;
            byte[] body = busy ? "try later".getBytes() : image;
            ex.sendResponseHeaders(busy ? 503 : 200, body.length);
            try (var out = ex.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        try {
            HttpSource http = new HttpSource(new HttpSource.Settings(true, List.of("127.0.0.1"), true,
                    Duration.ofSeconds(2), Duration.ofSeconds(5)));
            Fixture f = fixture(1 << 20, tmp.resolve("store"), Map.of("http", http));
            List<InputRecord<String, ImageTask>> batch = records(List.of(
                    Tasks.uri("by-http", "http://127.0.0.1:" + server.getAddress().getPort() + "/scene.png")));

            Exception thrown = catchThrowableOfType(() -> f.batch().apply(batch), Exception.class);
            assertThat(thrown).as("503 is the server's trouble, not the task's").isInstanceOf(TransientBatchException.class);
            assertThat(thrown).hasMessageContaining("HTTP 503");

            List<Emitted> out = f.batch().apply(batch);
            assertThat(rejects(out)).isEmpty();
            assertThat(tokens(out, "visual-tokens")).singleElement().satisfies(vt ->
                    assertThat(vt.getTasks()).extracting(TaskRef::getTaskId).containsExactly("by-http"));
            assertThat(calls.get()).isEqualTo(2);
        } finally {
            server.stop(0);
        }
    }

    @Test
    void filesAreReadOnlyUnderTheRootsAndAWrongImageIdIsRefused() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("images"));
        Files.copy(golden.scenes().get(5).image(), root.resolve("scene.png"));
        Files.writeString(tmp.resolve("secret.txt"), "not for tasks");
        Fixture f = fixture(1 << 20, tmp.resolve("store"), Map.of("file", new FileSource(List.of(root))));
        ImageTask wrongId = Tasks.inline("wrong-id", Files.readAllBytes(golden.scenes().get(5).image()), null);
        wrongId.setImageId("0".repeat(64));
        List<Emitted> out = f.batch().apply(records(List.of(
                Tasks.uri("by-file", root.resolve("scene.png").toUri().toString()),
                Tasks.uri("escape", root.toUri() + "../secret.txt"),
                Tasks.uri("ftp", "ftp://example.com/a.png"),
                wrongId)));
        assertThat(tokens(out, "visual-tokens")).singleElement()
                .satisfies(vt -> assertThat(vt.getTasks()).extracting(TaskRef::getTaskId).containsExactly("by-file"));
        Map<Integer, ImageRejectedException> rejected = rejects(out);
        assertThat(rejected.get(1).reason()).isEqualTo(ImageRejectedException.Reason.NOT_ALLOWED);
        assertThat(rejected.get(1).getMessage()).contains("outside the allowed image folders");
        assertThat(rejected.get(2).getMessage()).contains("'ftp:' URI are not accepted");
        assertThat(rejected.get(3).reason()).isEqualTo(ImageRejectedException.Reason.INVALID_TASK);
    }

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }
}
