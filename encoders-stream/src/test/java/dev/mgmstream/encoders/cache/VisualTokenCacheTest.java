package dev.mgmstream.encoders.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache on the in-process broker: what it serves (committed records, not aborted ones, not what does
 * not decode, not what was deleted), the heap map of tokens not yet read back, a failed global thread
 * replaced by a new client, and a restart on the same state folder that reads only what the topic gained.
 */
class VisualTokenCacheTest {

    private static final String MODEL = "mgm-tiny";

    @TempDir
    Path tmp;

    static VisualTokens tokens(String imageId, int payloadBytes) {
        return tokens(imageId, ByteBuffer.wrap(new byte[payloadBytes]));
    }

    private static VisualTokens tokens(String imageId, ByteBuffer payload) {
        return VisualTokens.newBuilder()
                .setImageId(imageId)
                .setModelId(MODEL)
                .setShape(List.of(1, payload.capacity() / 2))
                .setDtype("float16")
                .setPayload(payload)
                .setClaimCheckUri(null)
                .setTasks(List.of())
                .build();
    }

    /** The record's Avro single-object encoding: a real encoding, without a registry to start. */
    static byte[] encode(VisualTokens v) {
        try {
            ByteBuffer b = VisualTokens.getEncoder().encode(v);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final Deserializer<VisualTokens> DECODER = (topic, data) -> {
        try {
            return VisualTokens.getDecoder().decode(data);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("not a VisualTokens record", e);
        }
    };

    private static String newTopic(int partitions) throws Exception {
        String topic = "token-cache-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
        }
        return topic;
    }

    private static KafkaProducer<String, byte[]> producer(String transactionalId) {
        Map<String, Object> c = new HashMap<>();
        c.put("bootstrap.servers", SharedKafka.bootstrapServers());
        if (transactionalId != null) {
            c.put("transactional.id", transactionalId);
        }
        return new KafkaProducer<>(c, new StringSerializer(), new ByteArraySerializer());
    }

    private static Map<String, Object> streamsConfig() {
        return Map.of("bootstrap.servers", SharedKafka.bootstrapServers(),
                "client.id", "cache-test-" + UUID.randomUUID());
    }

    private static ProducerRecord<String, byte[]> entry(String topic, String imageId) {
        return new ProducerRecord<>(topic, VisualTokenCache.key(imageId, MODEL), encode(tokens(imageId, 8)));
    }

    @Test
    void tokensRememberedBeforeTheirRecordIsReadAreServedFromABoundedHeapMap() {
        try (VisualTokenCache cache = new VisualTokenCache("unused", DECODER, tmp, VisualTokenCache.DEFAULT_MEMORY_BYTES)) {
            cache.remember(tokens("a", 10));
            assertThat(cache.get("a", MODEL)).isPresent();
            assertThat(cache.get("a", "another-model")).isEmpty();
            assertThat(cache.get("b", MODEL)).as("not started: no store, a miss").isEmpty();

            for (int i = 0; i < VisualTokenCache.RECENT_MAX_ENTRIES; i++) {
                cache.remember(tokens("small-" + i, 10));
            }
            assertThat(cache.recentEntries()).isEqualTo(VisualTokenCache.RECENT_MAX_ENTRIES);
            assertThat(cache.get("a", MODEL)).as("the eldest left").isEmpty();

            // Large inline tokens are bounded by bytes (one shared array: sizeOf counts each entry's buffer).
            ByteBuffer mib = ByteBuffer.wrap(new byte[1 << 20]);
            int fit = (int) (VisualTokenCache.RECENT_MAX_BYTES >> 20);
            for (int i = 0; i < fit + 8; i++) {
                cache.remember(tokens("large-" + i, mib.duplicate()));
            }
            assertThat(cache.recentEntries()).isLessThan(fit);
            assertThat(cache.get("large-0", MODEL)).isEmpty();
            assertThat(cache.get("large-" + (fit + 7), MODEL)).isPresent();
        }
    }

    @Test
    void servesCommittedRecordsOnlyAndALookupThatFailsIsAMiss() throws Exception {
        String topic = newTopic(1);
        // Fails on "flaky" as a registry that does not answer would, until the test lets it through.
        Set<String> failing = ConcurrentHashMap.newKeySet();
        failing.add("flaky");
        Deserializer<VisualTokens> flaky = (t, data) -> {
            VisualTokens v = DECODER.deserialize(t, data);
            if (failing.contains(v.getImageId())) {
                throw new SerializationException("schema registry unreachable",
                        new ConnectException("Connection refused"));
            }
            return v;
        };

        try (KafkaProducer<String, byte[]> producer = producer("cache-test-" + UUID.randomUUID());
             VisualTokenCache cache = new VisualTokenCache(topic, flaky, tmp, VisualTokenCache.DEFAULT_MEMORY_BYTES)) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(entry(topic, "first"));
            producer.send(new ProducerRecord<>(topic, "garbage|" + MODEL, "not avro".getBytes()));
            producer.send(entry(topic, "flaky"));
            producer.send(entry(topic, "deleted"));
            producer.commitTransaction();
            producer.beginTransaction();
            producer.send(entry(topic, "aborted"));
            producer.flush();
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("deleted", MODEL), null));
            producer.commitTransaction();

            cache.start(streamsConfig(), Duration.ofSeconds(30));
            assertThat(cache.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
            assertThat(cache.get("first", MODEL)).isPresent();
            assertThat(cache.get("garbage", MODEL)).as("does not decode: a miss").isEmpty();
            assertThat(cache.get("flaky", MODEL)).as("its decoder fails for now: a miss").isEmpty();
            assertThat(cache.lookupFailures()).isEqualTo(2);
            assertThat(cache.get("aborted", MODEL)).as("read_committed").isEmpty();
            assertThat(cache.get("deleted", MODEL)).as("the tombstone deleted it").isEmpty();

            failing.clear();
            assertThat(cache.get("flaky", MODEL)).as("in the store all along").isPresent();

            // Still reading: a record committed now is served, and a remembered entry leaves the heap once read.
            cache.remember(tokens("later", 8));
            assertThat(cache.recentEntries()).isEqualTo(1);
            producer.beginTransaction();
            producer.send(entry(topic, "later"));
            producer.commitTransaction();
            await().atMost(Duration.ofSeconds(30)).until(() -> cache.recentEntries() == 0);
            assertThat(cache.get("later", MODEL)).isPresent();
            assertThat(cache.restarts()).isZero();
        }
    }

    @Test
    void aGlobalThreadThatFailsIsReplacedByANewClientThatServesOn() throws Exception {
        String topic = newTopic(1);
        AtomicBoolean failOnce = new AtomicBoolean(true);
        try (KafkaProducer<String, byte[]> producer = producer(null);
             VisualTokenCache cache = new VisualTokenCache(topic, DECODER, tmp, VisualTokenCache.DEFAULT_MEMORY_BYTES)
                     .withRestartBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
                     .withApplyHook(key -> {
                         if (key.startsWith("poison|") && failOnce.getAndSet(false)) {
                             throw new IllegalStateException("a bug in the global thread");
                         }
                     })) {
            producer.send(entry(topic, "before")).get();
            cache.start(streamsConfig(), Duration.ofSeconds(30));
            assertThat(cache.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
            assertThat(cache.get("before", MODEL)).isPresent();

            producer.send(entry(topic, "poison")).get();
            producer.send(entry(topic, "after")).get();
            await().atMost(Duration.ofSeconds(60)).until(() -> cache.restarts() >= 1);
            await().atMost(Duration.ofSeconds(60)).until(() -> cache.get("after", MODEL).isPresent());
            assertThat(cache.get("poison", MODEL)).isPresent();
            assertThat(cache.get("before", MODEL)).isPresent();
        }
    }

    @Test
    void aRestartOnTheSameStateFolderReadsOnlyWhatTheTopicGainedSince() throws Exception {
        String topic = newTopic(2);
        int n = 500;
        try (KafkaProducer<String, byte[]> producer = producer(null)) {
            for (int i = 0; i < n; i++) {
                producer.send(entry(topic, "old-" + i));
            }
            producer.flush();

            try (VisualTokenCache first = new VisualTokenCache(topic, DECODER, tmp, VisualTokenCache.DEFAULT_MEMORY_BYTES)) {
                first.start(streamsConfig(), Duration.ofSeconds(30));
                assertThat(first.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                assertThat(first.restoredRecords()).as("a new folder: the whole topic").isEqualTo(n);
                assertThat(first.get("old-0", MODEL)).isPresent();
            }

            // While no cache runs: 20 new images and one deleted.
            for (int i = 0; i < 20; i++) {
                producer.send(entry(topic, "new-" + i));
            }
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("old-7", MODEL), null));
            producer.flush();

            try (VisualTokenCache again = new VisualTokenCache(topic, DECODER, tmp, VisualTokenCache.DEFAULT_MEMORY_BYTES)) {
                long t0 = System.nanoTime();
                again.start(streamsConfig(), Duration.ofSeconds(30));
                assertThat(again.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                System.out.printf("restart: %d records read from the topic, ready in %d ms%n", again.restoredRecords(),
                        (System.nanoTime() - t0) / 1_000_000);
                assertThat(again.restoredRecords()).as("only what the topic gained").isEqualTo(21);
                for (int i = 0; i < n; i++) {
                    assertThat(again.get("old-" + i, MODEL).isPresent()).as("old-" + i).isEqualTo(i != 7);
                }
                assertThat(again.get("new-19", MODEL)).isPresent();
                assertThat(again.size()).isBetween((long) n, (long) n + 21);
            }
        }
    }
}
