package dev.mgmstream.encoders.cache;

import dev.mgmstream.pipeline.stage.Backoff;
import dev.mgmstream.pipeline.stage.InfrastructureErrors;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
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
 * group), so any instance knows every image encoded before it started. The map is bounded by entries and by
 * bytes (least recently used entries go first): entries hold tokens inline up to the inline limit, so a
 * count alone would let a model with large tokens fill the heap. A miss only costs an encoding.
 *
 * <p>The reader outlives its errors: a consumer that fails (a broker away, a registry that does not answer)
 * is closed and a new one resumes where the old one stopped, after a jittered backoff that grows with each
 * failure in a row; a record that cannot be decoded for good is skipped, since it can only cost an encoding.
 *
 * <p>A plain consumer on its own thread rather than a Kafka Streams GlobalKTable: the stage already runs its
 * own consume-transform-produce loop, and this map needs nothing from Streams but a read loop.
 */
public final class VisualTokenCache implements AutoCloseable {

    /** The byte bound when none is given: room for some hundred thousand claim-checked entries or 256 MiB of inline tokens. */
    public static final long DEFAULT_MAX_BYTES = 256L << 20;

    private static final Logger log = LoggerFactory.getLogger(VisualTokenCache.class);

    private final String topic;
    private final Map<String, Object> consumerConfig = new HashMap<>();
    private final Deserializer<VisualTokens> values;
    private final int maxEntries;
    private final long maxBytes;
    private final LinkedHashMap<String, Sized> entries = new LinkedHashMap<>(1024, 0.75f, true);
    private long bytes;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final CountDownLatch closing = new CountDownLatch(1);
    private final AtomicInteger restarts = new AtomicInteger();
    private volatile boolean closed;
    /** Whether the current (or last) consumer has read a record, so that its failure is not one more in a row. */
    private volatile boolean progressed;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private Thread reader;
    private Duration startupWait = Duration.ZERO;
    private Duration firstBackoff = Duration.ofSeconds(1);
    private Duration maxBackoff = Duration.ofMinutes(1);
    private boolean startupAwaited;

    private record Sized(VisualTokens tokens, long bytes) {}

    /** The record key of an image's tokens in the cache topic. */
    public static String key(String imageId, String modelId) {
        return imageId + "|" + modelId;
    }

    public VisualTokenCache(String topic, Deserializer<VisualTokens> values, int maxEntries) {
        this(topic, values, maxEntries, DEFAULT_MAX_BYTES);
    }

    /**
     * @param maxEntries the most images held
     * @param maxBytes   the most bytes the held tokens may take, as {@link #sizeOf} estimates them
     */
    public VisualTokenCache(String topic, Deserializer<VisualTokens> values, int maxEntries, long maxBytes) {
        if (maxEntries < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("the visual-token cache needs room for at least one entry");
        }
        this.topic = topic;
        this.values = values;
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
    }

    /** The wait before the reader's first restart after an error, doubling up to {@code max}; call before start. */
    public VisualTokenCache withRestartBackoff(Duration first, Duration max) {
        this.firstBackoff = first;
        this.maxBackoff = max;
        return this;
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
        Sized s;
        synchronized (entries) {
            s = entries.get(key(imageId, modelId));
        }
        // A key clash with another model cannot happen by construction, but the model id is what makes reuse safe.
        return s != null && s.tokens().getModelId().equals(modelId) ? Optional.of(s.tokens()) : Optional.empty();
    }

    /**
     * Records tokens this instance has just computed, before their transaction commits: tokens are a pure
     * function of (image, model), so even if that transaction aborts, the entry is still right; and the next
     * batch need not wait for the reader to see the commit.
     */
    public void remember(VisualTokens tokens) {
        put(key(tokens.getImageId(), tokens.getModelId()), tokens);
    }

    public int size() {
        synchronized (entries) {
            return entries.size();
        }
    }

    /** The bytes the held entries take, as {@link #sizeOf} estimates them. */
    public long bytes() {
        synchronized (entries) {
            return bytes;
        }
    }

    /** How often the reader has been started again after an error. */
    public int restarts() {
        return restarts.get();
    }

    /**
     * The heap an entry holds, roughly: its inline payload (the buffer's whole array, which it keeps alive), its
     * strings as UTF-16, and a fixed allowance for the objects around them. Only needs to be right in scale.
     */
    static long sizeOf(String key, VisualTokens v) {
        long n = 256 + 2L * key.length();
        n += 2L * (length(v.getImageId()) + length(v.getModelId()) + length(v.getDtype()) + length(v.getClaimCheckUri()));
        n += 24L * (v.getShape() == null ? 0 : v.getShape().size());
        if (v.getPayload() != null) {
            n += v.getPayload().capacity();
        }
        return n;
    }

    private static int length(CharSequence s) {
        return s == null ? 0 : s.length();
    }

    private void put(String key, VisualTokens tokens) {
        Sized entry = new Sized(tokens, sizeOf(key, tokens));
        synchronized (entries) {
            Sized old = entries.put(key, entry);
            bytes += entry.bytes() - (old == null ? 0 : old.bytes());
            Iterator<Sized> eldest = entries.values().iterator();
            while ((entries.size() > maxEntries || bytes > maxBytes) && eldest.hasNext()) {
                bytes -= eldest.next().bytes();
                eldest.remove();
            }
        }
    }

    private void remove(String key) {
        synchronized (entries) {
            Sized old = entries.remove(key);
            if (old != null) {
                bytes -= old.bytes();
            }
        }
    }

    /** Reads until closed, starting a new consumer after any error; the map keeps what was read. */
    private void readLoop() {
        Map<TopicPartition, Long> positions = new HashMap<>();
        int failuresInARow = 0;
        try {
            while (!closed) {
                try {
                    read(positions);
                } catch (RuntimeException e) {
                    if (closed) {
                        break;
                    }
                    // A consumer that read something before failing was healthy: its failure starts the backoff anew.
                    failuresInARow = progressed ? 1 : failuresInARow + 1;
                    Duration wait = backoff(failuresInARow);
                    // Without the cache the stage still answers every task, only with more encodings: warn, go on.
                    log.warn("Visual-token cache reader of {} failed ({} in a row); starting it again in {} ms", topic,
                            failuresInARow, wait.toMillis(), e);
                    restarts.incrementAndGet();
                    closing.await(wait.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            caughtUp.countDown();
        }
    }

    private Duration backoff(int attempt) {
        return Backoff.jittered(firstBackoff, maxBackoff, attempt);
    }

    /** One consumer's life: from the positions reached (the beginning at first) until closed or an error. */
    private void read(Map<TopicPartition, Long> positions) {
        progressed = false;
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(consumerConfig, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            consumer = c;
            if (closed) {
                return;
            }
            List<TopicPartition> partitions = partitionsOf(c);
            c.assign(partitions);
            for (TopicPartition tp : partitions) {
                Long at = positions.get(tp);
                if (at == null) {
                    c.seekToBeginning(List.of(tp));
                } else {
                    c.seek(tp, at);
                }
            }
            Map<TopicPartition, Long> end = caughtUp.getCount() > 0 ? c.endOffsets(partitions) : Map.of();
            while (!closed) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    apply(r);
                    positions.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
                    progressed = true;
                }
                if (caughtUp.getCount() > 0 && partitions.stream().allMatch(tp -> c.position(tp) >= end.get(tp))) {
                    caughtUp.countDown();
                    log.info("Visual-token cache read {} to its end: {} entries, {} bytes", topic, size(), bytes());
                }
            }
        } finally {
            consumer = null;
        }
    }

    private void apply(ConsumerRecord<String, byte[]> r) {
        if (r.value() == null) {
            remove(r.key());
            return;
        }
        VisualTokens v;
        try {
            v = values.deserialize(r.topic(), r.headers(), r.value());
        } catch (RuntimeException e) {
            if (InfrastructureErrors.isTransient(e)) {
                throw e; // the registry is away: read this record again once the reader restarts
            }
            log.warn("Visual-token cache skips the record at {}-{}@{}, which does not decode: {}", r.topic(),
                    r.partition(), r.offset(), e.toString());
            return;
        }
        if (v == null) {
            remove(r.key());
        } else {
            put(r.key(), v);
        }
    }

    private List<TopicPartition> partitionsOf(KafkaConsumer<String, byte[]> c) {
        var infos = c.partitionsFor(topic, Duration.ofSeconds(10));
        if (infos == null || infos.isEmpty()) {
            throw new IllegalStateException("cache topic " + topic + " does not exist (yet)");
        }
        return infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
    }

    @Override
    public void close() {
        closed = true;
        closing.countDown();
        KafkaConsumer<String, byte[]> c = consumer;
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
