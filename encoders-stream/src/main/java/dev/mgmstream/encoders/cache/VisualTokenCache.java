package dev.mgmstream.encoders.cache;

import dev.mgmstream.pipeline.stage.Backoff;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "Encode once, ask many": the visual tokens of every image already encoded, keyed by image id and model
 * id, from the compacted {@code visual-token-cache} topic, kept on disk in a Kafka Streams global store.
 *
 * <p>The topic is the durable truth: the stage writes a fresh encoding to it in the same transaction as the
 * tokens it sends downstream, and every instance reads all of it ({@code read_committed}, no consumer
 * group), so any instance knows every image encoded before it started. Each instance runs a Kafka Streams
 * client whose whole topology is one global store over that topic: RocksDB under its own state folder, the
 * record bytes as they came (they are decoded at lookup), checkpointed with the offsets they stand for. A
 * restart on the same folder opens what is on disk and reads only what the topic gained since; the heap
 * holds none of it, and RocksDB's native memory is held to one budget ({@link BoundedRocksDB}).
 *
 * <p>Streams' own failure handling, then ours: when the global thread dies (it cannot be replaced) the client
 * goes to ERROR, and the cache closes it and starts a new one on the same folder after a jittered backoff that
 * grows with each failure in a row. Until then, and whenever a lookup fails (the store not open, a value
 * that does not decode, a registry away), the lookup is a miss: a miss only costs an encoding, so the cache
 * never fails the stage.
 *
 * <p>Tokens this instance has just computed are remembered on the heap until the global thread has read their
 * record (at most {@value #RECENT_MAX_ENTRIES} entries and {@value #RECENT_MAX_BYTES} bytes; one aborted
 * transaction's entries leave by age), so that the next batch finds them before their transaction commits.
 */
public final class VisualTokenCache implements AutoCloseable {

    /** The name of the global store (and of its folder under the state directory). */
    public static final String STORE_NAME = "visual-token-cache";

    /** Streams' application.id when the configuration given to {@link #start} has none. */
    public static final String DEFAULT_APPLICATION_ID = "mgm-visual-token-cache";

    /** The native memory budget of the store when none is given. */
    public static final long DEFAULT_MEMORY_BYTES = 64L << 20;

    static final int RECENT_MAX_ENTRIES = 1024;
    static final long RECENT_MAX_BYTES = 64L << 20;

    private static final Logger log = LoggerFactory.getLogger(VisualTokenCache.class);

    private final String topic;
    private final Deserializer<VisualTokens> values;
    private final Path stateDir;
    private final long memoryBytes;
    private final LinkedHashMap<String, Sized> recent = new LinkedHashMap<>(64, 0.75f, true);
    private long recentBytes;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final CountDownLatch closing = new CountDownLatch(1);
    private final AtomicInteger restarts = new AtomicInteger();
    private final AtomicLong restored = new AtomicLong();
    private final AtomicLong lookupFailures = new AtomicLong();
    private volatile boolean closed;
    private volatile KafkaStreams streams;
    private volatile ReadOnlyKeyValueStore<String, byte[]> store;
    private Consumer<String> applyHook = key -> { };
    private Thread supervisor;
    private Duration startupWait = Duration.ZERO;
    private Duration firstBackoff = Duration.ofSeconds(1);
    private Duration maxBackoff = Duration.ofMinutes(1);
    private boolean startupAwaited;

    private record Sized(VisualTokens tokens, long bytes) {}

    /** The record key of an image's tokens in the cache topic. */
    public static String key(String imageId, String modelId) {
        return imageId + "|" + modelId;
    }

    /**
     * @param stateDir    the Streams state directory of this instance alone (two clients cannot share one)
     * @param memoryBytes the native memory of the store's RocksDB: block cache, index and filters, write buffers
     */
    public VisualTokenCache(String topic, Deserializer<VisualTokens> values, Path stateDir, long memoryBytes) {
        if (memoryBytes < 1) {
            throw new IllegalArgumentException("the visual-token cache needs some memory, was " + memoryBytes);
        }
        this.topic = topic;
        this.values = values;
        this.stateDir = stateDir;
        this.memoryBytes = memoryBytes;
    }

    /** The wait before the first new Streams client after a failure, doubling up to {@code max}; call before start. */
    public VisualTokenCache withRestartBackoff(Duration first, Duration max) {
        this.firstBackoff = first;
        this.maxBackoff = max;
        return this;
    }

    /** Called with each key the global thread applies (tests make it fail); call before start. */
    VisualTokenCache withApplyHook(Consumer<String> hook) {
        this.applyHook = hook;
        return this;
    }

    /**
     * Starts the Streams client on a daemon thread, since starting blocks until the global store is restored.
     *
     * @param streamsConfig Kafka Streams settings: bootstrap servers, security, client.id, and optionally
     *                      application.id; the state directory, isolation and RocksDB settings are set here
     * @param startupWait   how long the first {@link #awaitStartup} waits for the store to be restored
     */
    public VisualTokenCache start(Map<String, Object> streamsConfig, Duration startupWait) {
        this.startupWait = startupWait;
        Properties props = streamsProperties(streamsConfig);
        supervisor = new Thread(() -> supervise(props), "visual-token-cache");
        supervisor.setDaemon(true);
        supervisor.start();
        return this;
    }

    Properties streamsProperties(Map<String, Object> streamsConfig) {
        Properties p = new Properties();
        p.putAll(streamsConfig);
        p.putIfAbsent(StreamsConfig.APPLICATION_ID_CONFIG, DEFAULT_APPLICATION_ID);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
        // The stage writes the cache topic in transactions: an aborted encoding must not be served.
        p.put(StreamsConfig.globalConsumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDB.class);
        p.put(BoundedRocksDB.MEMORY_BYTES, Long.toString(memoryBytes));
        // No record cache on the heap in front of the store: lookups go to RocksDB's own block cache.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
        return p;
    }

    /** The whole topology: the topic's records, bytes as they came, into one global key-value store. */
    Topology topology() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE_NAME), Serdes.String(),
                        Serdes.ByteArray()).withLoggingDisabled(),
                topic, Consumed.with(Serdes.String(), Serdes.ByteArray()), Apply::new);
        return builder.build();
    }

    /** Applies one cache record; Streams calls it while restoring too (a global store added with a processor). */
    private final class Apply implements Processor<String, byte[], Void, Void> {
        private KeyValueStore<String, byte[]> kv;

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            kv = context.getStateStore(STORE_NAME);
        }

        @Override
        public void process(Record<String, byte[]> r) {
            if (r.key() == null) {
                return;
            }
            applyHook.accept(r.key());
            if (r.value() == null) {
                kv.delete(r.key());
            } else {
                kv.put(r.key(), r.value());
            }
            forgetRecent(r.key());
        }
    }

    /** Waits until the first Streams client has restored the store; false on timeout. */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Called before lookups: the first call waits (at most the startup wait) until the store is restored, so
     * that images encoded before this instance started are found; later calls return at once. Waiting here
     * rather than in the stage's start lets the store restore while the stage joins its group. Not
     * thread-safe: the stage's batch thread calls it.
     */
    public void awaitStartup() throws InterruptedException {
        if (startupAwaited || supervisor == null) {
            return;
        }
        startupAwaited = true;
        if (!awaitCaughtUp(startupWait)) {
            log.warn("Visual-token cache store not restored within {}; going on, images it holds may be encoded again",
                    startupWait);
        }
    }

    /** The tokens of this image by this model, or empty: absent, not readable now, or not decodable. */
    public Optional<VisualTokens> get(String imageId, String modelId) {
        String key = key(imageId, modelId);
        Sized s;
        synchronized (recent) {
            s = recent.get(key);
        }
        VisualTokens v = s != null ? s.tokens() : stored(key);
        // A key clash with another model cannot happen by construction, but the model id is what makes reuse safe.
        return v != null && v.getModelId().equals(modelId) ? Optional.of(v) : Optional.empty();
    }

    private VisualTokens stored(String key) {
        ReadOnlyKeyValueStore<String, byte[]> kv = store;
        if (kv == null) {
            return null;
        }
        try {
            byte[] bytes = kv.get(key);
            return bytes == null ? null : values.deserialize(topic, bytes);
        } catch (RuntimeException e) {
            // The store closing under a restart, a record that does not decode, a registry away: all a miss.
            long n = lookupFailures.incrementAndGet();
            if (n == 1 || n % 1000 == 0) {
                log.warn("Visual-token cache lookup of {} failed ({} failures so far); treated as a miss: {}", key, n,
                        e.toString());
            }
            return null;
        }
    }

    /**
     * Records tokens this instance has just computed, before their transaction commits: tokens are a pure
     * function of (image, model), so even if that transaction aborts, the entry is still right; and the next
     * batch need not wait for the global thread to see the commit.
     */
    public void remember(VisualTokens tokens) {
        String key = key(tokens.getImageId(), tokens.getModelId());
        Sized entry = new Sized(tokens, sizeOf(key, tokens));
        synchronized (recent) {
            Sized old = recent.put(key, entry);
            recentBytes += entry.bytes() - (old == null ? 0 : old.bytes());
            Iterator<Sized> eldest = recent.values().iterator();
            while ((recent.size() > RECENT_MAX_ENTRIES || recentBytes > RECENT_MAX_BYTES) && eldest.hasNext()) {
                recentBytes -= eldest.next().bytes();
                eldest.remove();
            }
        }
    }

    private void forgetRecent(String key) {
        synchronized (recent) {
            Sized old = recent.remove(key);
            if (old != null) {
                recentBytes -= old.bytes();
            }
        }
    }

    /** Entries remembered on the heap whose records the global thread has not read yet. */
    public int recentEntries() {
        synchronized (recent) {
            return recent.size();
        }
    }

    /** Entries in the store, as RocksDB estimates them; 0 while no store is open. */
    public long size() {
        ReadOnlyKeyValueStore<String, byte[]> kv = store;
        try {
            return kv == null ? 0 : kv.approximateNumEntries();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** How often a new Streams client has been started after a failure. */
    public int restarts() {
        return restarts.get();
    }

    /** Records read from the topic to restore the store, by every start so far (what was on disk is not read). */
    public long restoredRecords() {
        return restored.get();
    }

    /** Lookups that failed and were served as misses. */
    public long lookupFailures() {
        return lookupFailures.get();
    }

    /**
     * The heap a remembered entry holds, roughly: its inline payload (the buffer's whole array, which it keeps
     * alive), its strings as UTF-16, and a fixed allowance for the objects around them. Only needs to be right
     * in scale.
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

    /** Runs one Streams client after another until closed: a client lives until it fails or the cache closes. */
    private void supervise(Properties props) {
        int failuresInARow = 0;
        try {
            while (!closed) {
                boolean healthy = run(props);
                if (closed) {
                    break;
                }
                // A client that restored its store was healthy: its failure starts the backoff anew.
                failuresInARow = healthy ? 1 : failuresInARow + 1;
                Duration wait = Backoff.jittered(firstBackoff, maxBackoff, failuresInARow);
                // Without the store the stage still answers every task, only with more encodings: warn, go on.
                log.warn("Visual-token cache over {} stopped ({} in a row); starting it again in {} ms", topic,
                        failuresInARow, wait.toMillis());
                restarts.incrementAndGet();
                closing.await(wait.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            caughtUp.countDown();
        }
    }

    /** One client's life; whether it restored its store before it stopped. */
    private boolean run(Properties props) throws InterruptedException {
        CountDownLatch ended = new CountDownLatch(1);
        KafkaStreams s = new KafkaStreams(topology(), props);
        s.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_ERROR
                    || now == KafkaStreams.State.PENDING_SHUTDOWN || now == KafkaStreams.State.NOT_RUNNING) {
                ended.countDown();
            }
        });
        // The global thread cannot be replaced: the client stops, and this cache starts a new one. (Kafka 4.1 gives
        // global processors no ProcessingExceptionHandler, KAFKA-19939: a failure there is logged as an NPE in
        // the handler, and the thread dies all the same.)
        s.setUncaughtExceptionHandler(e -> {
            log.warn("Visual-token cache's global thread failed", e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        s.setGlobalStateRestoreListener(new Counting());
        streams = s;
        boolean healthy = false;
        try {
            if (closed) {
                return false;
            }
            long t0 = System.nanoTime();
            s.start(); // returns once the global store is restored
            store = s.store(StoreQueryParameters.fromNameAndType(STORE_NAME, QueryableStoreTypes.keyValueStore()));
            healthy = true;
            log.info("Visual-token cache over {} ready in {} ms: about {} entries in {}, {} records read from the topic "
                    + "so far", topic, (System.nanoTime() - t0) / 1_000_000, size(), stateDir, restored.get());
            caughtUp.countDown();
            while (!closed && !ended.await(1, TimeUnit.SECONDS)) {
                // the client runs until it fails or the cache closes
            }
        } catch (RuntimeException e) {
            if (!closed) {
                log.warn("Visual-token cache over {} could not start or serve", topic, e);
            }
        } finally {
            store = null;
            streams = null;
            s.close(Duration.ofSeconds(10));
        }
        return healthy;
    }

    private final class Counting implements StateRestoreListener {
        @Override
        public void onRestoreStart(TopicPartition partition, String storeName, long startingOffset, long endingOffset) {
            log.debug("Restoring {} from {}, offsets {} to {}", storeName, partition, startingOffset, endingOffset);
        }

        @Override
        public void onBatchRestored(TopicPartition partition, String storeName, long batchEndOffset, long numRestored) {
        }

        @Override
        public void onRestoreEnd(TopicPartition partition, String storeName, long totalRestored) {
            restored.addAndGet(totalRestored);
        }
    }

    @Override
    public void close() {
        closed = true;
        closing.countDown();
        KafkaStreams s = streams;
        if (s != null) {
            // From here rather than waiting for the supervisor's next look, which may be in start() restoring.
            s.close(Duration.ofSeconds(10));
        }
        if (supervisor != null) {
            try {
                supervisor.join(15_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
