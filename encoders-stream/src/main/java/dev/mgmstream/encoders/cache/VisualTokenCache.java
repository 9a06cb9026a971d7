package dev.mgmstream.encoders.cache;

import dev.mgmstream.schemas.avro.VisualTokens;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "Encode once, ask many": the visual tokens of every image already encoded, keyed by image id and model
 * id, read from the compacted {@code visual-token-cache} topic into a local map.
 *
 * <p>The topic is the durable truth: the stage writes a fresh encoding to it in the same transaction as the
 * tokens it sends downstream, and every instance reads all of it ({@code read_committed}, no consumer
 * group), so any instance knows every image encoded before it started. The map is bounded (least recently
 * used entries go first); a miss only costs an encoding. Entries hold tokens inline or a claim-check URI,
 * never more than a record's worth.
 *
 * <p>A plain consumer on its own thread rather than a Kafka Streams GlobalKTable: the stage already runs its
 * own consume-transform-produce loop, and this map needs nothing from Streams but a read loop.
 */
public final class VisualTokenCache implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(VisualTokenCache.class);

    private final String topic;
    private final Map<String, Object> consumerConfig = new HashMap<>();
    private final Deserializer<VisualTokens> values;
    private final Map<String, VisualTokens> entries;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private volatile boolean closed;
    private volatile KafkaConsumer<String, VisualTokens> consumer;
    private Thread reader;
    private Duration startupWait = Duration.ZERO;
    private boolean startupAwaited;

    /** The record key of an image's tokens in the cache topic. */
    public static String key(String imageId, String modelId) {
        return imageId + "|" + modelId;
    }

    public VisualTokenCache(String topic, Deserializer<VisualTokens> values, int maxEntries) {
        this.topic = topic;
        this.values = values;
        this.entries = Collections.synchronizedMap(new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, VisualTokens> eldest) {
                return size() > maxEntries;
            }
        });
    }

    /**
     * Starts reading the topic from its beginning on a daemon thread.
     *
     * @param clientConfig Kafka consumer settings (bootstrap servers, security); group and isolation are set here
     * @param startupWait  how long the first {@link #awaitStartup} waits for the reader to reach the topic's end
     */
    public VisualTokenCache start(Map<String, Object> clientConfig, Duration startupWait) {
        this.startupWait = startupWait;
        consumerConfig.putAll(clientConfig);
        consumerConfig.put("isolation.level", "read_committed");
        consumerConfig.put("enable.auto.commit", "false");
        consumerConfig.put("auto.offset.reset", "earliest");
        consumerConfig.remove("group.id");
        consumerConfig.remove("group.instance.id");
        reader = new Thread(this::readLoop, "visual-token-cache-reader");
        reader.setDaemon(true);
        reader.start();
        return this;
    }

    /** Waits until everything in the topic when reading started has been read; false on timeout. */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Called before lookups: the first call waits (at most the startup wait) until the reader has read what
     * the topic held when it started, so that images encoded before this instance started are found; later
     * calls return at once. Waiting here rather than in the stage's start lets the reader catch up while the
     * stage joins its group. Not thread-safe: the stage's batch thread calls it.
     */
    public void awaitStartup() throws InterruptedException {
        if (startupAwaited || reader == null) {
            return;
        }
        startupAwaited = true;
        if (!awaitCaughtUp(startupWait)) {
            log.warn("Visual-token cache not read to its end within {}; going on, images it holds may be encoded again",
                    startupWait);
        }
    }

    public Optional<VisualTokens> get(String imageId, String modelId) {
        VisualTokens v = entries.get(key(imageId, modelId));
        // A key clash with another model cannot happen by construction, but the model id is what makes reuse safe.
        return v != null && v.getModelId().equals(modelId) ? Optional.of(v) : Optional.empty();
    }

    /**
     * Records tokens this instance has just computed, before their transaction commits: tokens are a pure
     * function of (image, model), so even if that transaction aborts, the entry is still right; and the next
     * batch need not wait for the reader to see the commit.
     */
    public void remember(VisualTokens tokens) {
        entries.put(key(tokens.getImageId(), tokens.getModelId()), tokens);
    }

    public int size() {
        return entries.size();
    }

    private void readLoop() {
        try (KafkaConsumer<String, VisualTokens> c = new KafkaConsumer<>(consumerConfig, new StringDeserializer(),
                values)) {
            consumer = c;
            List<TopicPartition> partitions = partitionsOf(c);
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            boolean behind = true;
            while (!closed) {
                for (ConsumerRecord<String, VisualTokens> r : c.poll(Duration.ofMillis(200))) {
                    if (r.value() == null) {
                        entries.remove(r.key());
                    } else {
                        entries.put(r.key(), r.value());
                    }
                }
                if (behind && partitions.stream().allMatch(tp -> c.position(tp) >= end.get(tp))) {
                    behind = false;
                    caughtUp.countDown();
                    log.info("Visual-token cache read {} to its end: {} entries", topic, entries.size());
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                log.error("Visual-token cache reader of {} woken unexpectedly", topic, e);
            }
        } catch (RuntimeException e) {
            // Without the cache the stage still answers every task, only with more encodings.
            log.error("Visual-token cache reader of {} stopped; images will be encoded again", topic, e);
        } finally {
            caughtUp.countDown();
        }
    }

    private List<TopicPartition> partitionsOf(KafkaConsumer<String, VisualTokens> c) {
        for (int attempt = 0; ; attempt++) {
            var infos = c.partitionsFor(topic, Duration.ofSeconds(10));
            if (infos != null && !infos.isEmpty()) {
                return infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            }
            if (attempt >= 5 || closed) {
                throw new IllegalStateException("cache topic " + topic + " does not exist");
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        KafkaConsumer<String, VisualTokens> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (reader != null) {
            try {
                reader.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
