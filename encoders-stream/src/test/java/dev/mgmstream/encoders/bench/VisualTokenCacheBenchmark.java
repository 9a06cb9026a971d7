package dev.mgmstream.encoders.bench;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.encoders.cache.VisualTokenCache;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The heap the visual-token cache takes with many cached images: claim-checked entries (a URI, no inline
 * tokens, about 250 bytes a record) written to a cache topic on the in-process broker, then the heap used
 * after a full GC before the cache starts, once its store is restored, after a lookup of every image in a
 * random order, and again after a restart on the same state folder. For scale, the same entries decoded
 * into a heap map, which is what the former reader thread kept.
 *
 * <p>Not a test: prints a table. Arguments: images (default 100000), lookups (default 100000).
 */
public final class VisualTokenCacheBenchmark {

    private static final String MODEL = "mgm-tiny";

    private static final Deserializer<VisualTokens> DECODER = (topic, data) -> {
        try {
            return VisualTokens.getDecoder().decode(data);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("not a VisualTokens record", e);
        }
    };

    private VisualTokenCacheBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int images = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int lookups = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        String bootstrap = SharedKafka.bootstrapServers();
        String topic = "bench-token-cache-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
        }
        List<String> ids = new ArrayList<>(images);
        long bytes = 0;
        long t0 = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.<String, Object>of(
                "bootstrap.servers", bootstrap, "linger.ms", "20", "batch.size", "262144"),
                new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < images; i++) {
                String id = sha256("image-" + i);
                ids.add(id);
                byte[] value = encode(claimChecked(id));
                bytes += value.length;
                producer.send(new ProducerRecord<>(topic, VisualTokenCache.key(id, MODEL), value));
            }
            producer.flush();
        }
        System.out.printf("%,d cache records written (%,d value bytes, %d bytes each) in %.1f s%n", images, bytes,
                bytes / images, seconds(t0));

        Path state = Files.createTempDirectory("token-cache-bench");
        List<String> order = new ArrayList<>(ids);
        Collections.shuffle(order, new Random(42));
        List<String[]> rows = new ArrayList<>();
        rows.add(row("before the cache starts", heapAfterGc(), ""));

        try (VisualTokenCache cache = new VisualTokenCache(topic, DECODER, state, VisualTokenCache.DEFAULT_MEMORY_BYTES)) {
            t0 = System.nanoTime();
            cache.start(clientConfig(bootstrap), Duration.ofMinutes(5));
            cache.awaitCaughtUp(Duration.ofMinutes(10));
            rows.add(row("store restored (new folder)", heapAfterGc(),
                    String.format("%.1f s, %,d records read", seconds(t0), cache.restoredRecords())));
            rows.add(lookups(cache, order, lookups));
        }
        rows.add(row("cache closed", heapAfterGc(), ""));

        try (VisualTokenCache cache = new VisualTokenCache(topic, DECODER, state, VisualTokenCache.DEFAULT_MEMORY_BYTES)) {
            t0 = System.nanoTime();
            cache.start(clientConfig(bootstrap), Duration.ofMinutes(5));
            cache.awaitCaughtUp(Duration.ofMinutes(10));
            rows.add(row("restarted on the same folder", heapAfterGc(),
                    String.format("%.1f s, %,d records read", seconds(t0), cache.restoredRecords())));
            rows.add(lookups(cache, order, lookups));
        }

        // For scale: what the former reader thread held, every entry decoded into a heap map.
        Map<String, VisualTokens> map = new LinkedHashMap<>();
        for (String id : ids) {
            map.put(VisualTokenCache.key(id, MODEL), DECODER.deserialize(topic, encode(claimChecked(id))));
        }
        rows.add(row("(the same entries in a heap map)", heapAfterGc(), String.format("%,d entries", map.size())));

        System.out.printf("%n%-36s %10s %10s  %s%n", "", "heap MiB", "RSS MiB", "");
        for (String[] r : rows) {
            System.out.printf("%-36s %10s %10s  %s%n", r[0], r[1], r[2], r[3]);
        }
        System.out.printf("max heap %d MiB; the store takes %.1f MiB on disk%n", Runtime.getRuntime().maxMemory() >> 20,
                deleteFolder(state) / 1048576.0);
        map.clear();
        System.exit(0);
    }

    private static String[] lookups(VisualTokenCache cache, List<String> order, int lookups) {
        long t0 = System.nanoTime();
        int hits = 0;
        for (int i = 0; i < lookups; i++) {
            if (cache.get(order.get(i % order.size()), MODEL).isPresent()) {
                hits++;
            }
        }
        double s = seconds(t0);
        return row(String.format("after %,d lookups", lookups), heapAfterGc(),
                String.format("%,d hits, %.1f us a lookup", hits, s * 1e6 / lookups));
    }

    /** Deletes the folder; the bytes its files took. */
    private static long deleteFolder(Path folder) throws IOException {
        long total = 0;
        try (var walk = Files.walk(folder)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                total += Files.isRegularFile(p) ? Files.size(p) : 0;
                Files.delete(p);
            }
        }
        return total;
    }

    private static Map<String, Object> clientConfig(String bootstrap) {
        return Map.of("bootstrap.servers", bootstrap, "client.id", "bench-cache-" + UUID.randomUUID());
    }

    private static VisualTokens claimChecked(String id) {
        return VisualTokens.newBuilder()
                .setImageId(id)
                .setModelId(MODEL)
                .setShape(List.of(1, 144, 896))
                .setDtype("float16")
                .setPayload(null)
                .setClaimCheckUri("file:///var/lib/mgm/visual-tokens/tokens/" + id + ".float16")
                .setTasks(List.of())
                .build();
    }

    private static byte[] encode(VisualTokens v) {
        try {
            ByteBuffer b = VisualTokens.getEncoder().encode(v);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(String s) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static String[] row(String what, long heap, String detail) {
        return new String[] {what, String.format("%.1f", heap / 1048576.0), String.format("%.0f", rssBytes() / 1048576.0),
                detail};
    }

    /** Heap used after a few full collections, so that garbage does not count. */
    private static long heapAfterGc() {
        var memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    /** The process's resident memory, heap and native (RocksDB, the in-process broker) together; 0 off Linux. */
    private static long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return 0;
    }
}
