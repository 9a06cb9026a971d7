package dev.mgmstream.encoders.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * The cache map's bounds, and its reader on the in-process broker surviving a record that never decodes and
 * a deserializer that fails for a while (a registry away), reading on past both.
 */
class VisualTokenCacheTest {

    private static final String MODEL = "mgm-tiny";

    private static VisualTokens tokens(String imageId, int payloadBytes) {
        return VisualTokens.newBuilder()
                .setImageId(imageId)
                .setModelId(MODEL)
                .setShape(List.of(1, payloadBytes / 2))
                .setDtype("float16")
                .setPayload(ByteBuffer.wrap(new byte[payloadBytes]))
                .setClaimCheckUri(null)
                .setTasks(List.of())
                .build();
    }

    /** The record's Avro single-object encoding: a real encoding, without a registry to start. */
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

    private static final Deserializer<VisualTokens> DECODER = (topic, data) -> {
        try {
            return VisualTokens.getDecoder().decode(data);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("not a VisualTokens record", e);
        }
    };

    @Test
    void theMapIsBoundedByBytesAndEvictsTheLeastRecentlyUsedFirst() {
        long one = VisualTokenCache.sizeOf(VisualTokenCache.key("a", MODEL), tokens("a", 10_000));
        try (VisualTokenCache cache = new VisualTokenCache("unused", DECODER, 1000, 2 * one + one / 2)) {
            cache.remember(tokens("a", 10_000));
            cache.remember(tokens("b", 10_000));
            assertThat(cache.get("a", MODEL)).as("a is now the most recently used").isPresent();
            cache.remember(tokens("c", 10_000));

            assertThat(cache.size()).isEqualTo(2);
            assertThat(cache.get("b", MODEL)).isEmpty();
            assertThat(cache.get("a", MODEL)).isPresent();
            assertThat(cache.get("c", MODEL)).isPresent();
            assertThat(cache.bytes()).isEqualTo(2 * one).isLessThanOrEqualTo(2 * one + one / 2);

            // Many small entries fit where a large one did, and push out the least recently used large one.
            for (int i = 0; i < 20; i++) {
                cache.remember(tokens("small-" + i, 10));
            }
            assertThat(cache.get("small-0", MODEL)).isPresent();
            assertThat(cache.get("small-19", MODEL)).isPresent();
            assertThat(cache.get("a", MODEL)).isEmpty();
            assertThat(cache.bytes()).isLessThanOrEqualTo(2 * one + one / 2);
            cache.remember(tokens("huge", 100_000));
            assertThat(cache.get("huge", MODEL)).as("an entry over the whole bound is not kept").isEmpty();
            assertThat(cache.bytes()).isLessThanOrEqualTo(2 * one + one / 2);
        }
    }

    @Test
    void theReaderSkipsARecordThatNeverDecodesAndStartsAgainAfterAFailureThatPasses() throws Exception {
        String topic = "token-cache-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
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

        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(
                Map.<String, Object>of("bootstrap.servers", SharedKafka.bootstrapServers()), new StringSerializer(),
                new ByteArraySerializer());
             VisualTokenCache cache = new VisualTokenCache(topic, flaky, 1000)
                     .withRestartBackoff(Duration.ofMillis(50), Duration.ofMillis(200))) {
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("first", MODEL), encode(tokens("first", 8))));
            producer.send(new ProducerRecord<>(topic, "garbage|" + MODEL, "not avro".getBytes()));
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("after-garbage", MODEL),
                    encode(tokens("after-garbage", 8))));
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("flaky", MODEL), encode(tokens("flaky", 8))));
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("after-flaky", MODEL),
                    encode(tokens("after-flaky", 8))));
            producer.flush();

            cache.start(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), Duration.ofSeconds(30));
            await().atMost(Duration.ofSeconds(30)).until(() -> cache.get("after-garbage", MODEL).isPresent());
            await().atMost(Duration.ofSeconds(30)).until(() -> cache.restarts() >= 2);
            assertThat(cache.get("first", MODEL)).isPresent();
            assertThat(cache.get("flaky", MODEL)).as("not read past while it fails").isEmpty();
            assertThat(cache.get("after-flaky", MODEL)).isEmpty();

            failing.clear();
            await().atMost(Duration.ofSeconds(30)).until(() -> cache.get("after-flaky", MODEL).isPresent());
            assertThat(cache.get("flaky", MODEL)).as("read again by the new consumer, not skipped").isPresent();

            // Still reading: a record written now is served.
            producer.send(new ProducerRecord<>(topic, VisualTokenCache.key("later", MODEL), encode(tokens("later", 8))));
            producer.flush();
            await().atMost(Duration.ofSeconds(30)).until(() -> cache.get("later", MODEL).isPresent());
            assertThat(cache.size()).isEqualTo(5);
        }
    }
}
