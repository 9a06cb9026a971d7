package dev.mgmstream.pipeline.stage;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.pipeline.kafka.KafkaClientConfigs.Kind;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * How a stage runs, read from configuration, and the Kafka client settings that follow from it.
 *
 * <p>Two client timeouts are derived rather than configured, because they only make sense relative
 * to the stage's own numbers:
 * <ul>
 *   <li>{@code max.poll.interval.ms} = batch timeout + commit timeout + 30 s. The poll loop keeps
 *   running while a batch computes, so this bound is reached only when a rebalance callback waits
 *   for the in-flight batch and commits it; that wait is at most one batch plus one commit.</li>
 *   <li>{@code transaction.timeout.ms} = commit timeout. A transaction is opened only after the batch
 *   has computed, so it spans sending and committing, never model time; a short timeout lets the
 *   broker abort a crashed instance's transaction soon, which unblocks {@code read_committed}
 *   readers of its output.</li>
 * </ul>
 * Explicit {@code kafka.consumer.*} / {@code kafka.producer.*} settings override anything derived.
 */
public record StageSettings(String bootstrapServers, String groupId, String instanceId, int batchMaxSize,
                            Duration linger, int maxBuffered, Duration batchTimeout, int retries, Duration retryBackoff,
                            Duration retryBackoffMax, Duration commitTimeout, Duration pollTimeout,
                            InFlightPolicy onRevoke, InFlightPolicy onShutdown, boolean staticMembership,
                            int metricsPort, Map<String, String> config) {

    public static final ConfigKey BOOTSTRAP = new ConfigKey("bootstrap.servers", "localhost:9092",
            "Kafka brokers to connect to.");
    public static final ConfigKey GROUP_ID = new ConfigKey("stage.group.id", "",
            "Consumer group of the stage; empty means the stage's name.");
    public static final ConfigKey INSTANCE_ID = new ConfigKey("stage.instance.id", "0",
            "Identity of this instance within the group, stable across restarts: it names the static group "
                    + "membership and the transactional.id (group-instance), so a restarted instance fences its "
                    + "predecessor and aborts its open transaction at once. Must differ between live instances.");
    public static final ConfigKey BATCH_MAX_SIZE = new ConfigKey("stage.batch.max.size", "64",
            "Largest batch handed to the batch function.");
    public static final ConfigKey BATCH_LINGER = new ConfigKey("stage.batch.linger.ms", "20",
            "Longest an input waits for its batch to fill before a smaller batch is formed.");
    public static final ConfigKey MAX_BUFFERED = new ConfigKey("stage.batch.max.buffered", "0",
            "Polled inputs held waiting before fetching pauses; 0 means twice stage.batch.max.size.");
    public static final ConfigKey BATCH_TIMEOUT = new ConfigKey("stage.batch.timeout.ms", "60000",
            "Worst-case time of one batch function call. A batch computing longer is abandoned (its worker "
                    + "interrupted and replaced) and its inputs read again after a backoff; it also sets "
                    + "max.poll.interval.ms (see above) and how long revocation or shutdown waits for an in-flight "
                    + "batch.");
    public static final ConfigKey RETRIES = new ConfigKey("stage.batch.retries", "3",
            "Retries of a batch that failed for a reason that says nothing about its inputs (TransientBatchException, "
                    + "a registry, store or broker that did not answer), before the batch is read again later; such a "
                    + "batch is never split or dead-lettered.");
    public static final ConfigKey BACKOFF = new ConfigKey("stage.batch.retry.backoff.ms", "100",
            "First retry backoff; doubles each retry, with jitter (each wait is between half and all of it).");
    public static final ConfigKey BACKOFF_MAX = new ConfigKey("stage.batch.retry.backoff.max.ms", "5000",
            "Ceiling of the retry backoff.");
    public static final ConfigKey COMMIT_TIMEOUT = new ConfigKey("stage.commit.timeout.ms", "60000",
            "Time to write a batch's outputs and commit its transaction; sets transaction.timeout.ms, "
                    + "delivery.timeout.ms and max.block.ms (request.timeout.ms is half of it).");
    public static final ConfigKey POLL_TIMEOUT = new ConfigKey("stage.poll.timeout.ms", "100",
            "Longest single poll when nothing is due; bounds how quickly a stop request is noticed.");
    public static final ConfigKey ON_REVOKE = new ConfigKey("stage.inflight.on.revoke", "commit",
            "commit: a batch computing when its partitions are revoked is finished and committed before they go; "
                    + "drop: it is abandoned and the new owner reprocesses it.");
    public static final ConfigKey ON_SHUTDOWN = new ConfigKey("stage.inflight.on.shutdown", "commit",
            "Same choice for the batch computing when the stage is asked to stop (SIGTERM).");
    public static final ConfigKey STATIC_MEMBERSHIP = new ConfigKey("stage.static.membership", "true",
            "Join the group as a static member (group.instance.id) so a restart does not rebalance.");
    public static final ConfigKey METRICS_PORT = new ConfigKey("metrics.port", "-1",
            "HTTP port serving Prometheus metrics at /metrics and the probes /health/live and /health/ready; "
                    + "0 picks a free port, -1 turns it off.");

    /** Every key this class reads, in documentation order; {@code kafka.*} pass-through keys come on top. */
    public static final List<ConfigKey> KEYS = List.of(BOOTSTRAP, GROUP_ID, INSTANCE_ID, BATCH_MAX_SIZE, BATCH_LINGER,
            MAX_BUFFERED, BATCH_TIMEOUT, RETRIES, BACKOFF, BACKOFF_MAX, COMMIT_TIMEOUT, POLL_TIMEOUT, ON_REVOKE,
            ON_SHUTDOWN, STATIC_MEMBERSHIP, METRICS_PORT);

    public StageSettings {
        config = Map.copyOf(config);
        if (batchMaxSize < 1) {
            throw new IllegalArgumentException(BATCH_MAX_SIZE.name() + " must be >= 1, was " + batchMaxSize);
        }
        if (maxBuffered < batchMaxSize) {
            throw new IllegalArgumentException(MAX_BUFFERED.name() + " (" + maxBuffered + ") must be >= "
                    + BATCH_MAX_SIZE.name() + " (" + batchMaxSize + ")");
        }
        if (instanceId.isBlank()) {
            throw new IllegalArgumentException(INSTANCE_ID.name() + " must not be blank");
        }
    }

    /** Reads settings from an already layered map (see {@link LayeredConfig}); missing keys take defaults. */
    public static StageSettings from(String stageName, Map<String, String> config) {
        Map<String, String> c = new HashMap<>();
        KEYS.forEach(k -> c.put(k.name(), k.defaultValue()));
        c.putAll(config);
        int size = integer(c, BATCH_MAX_SIZE);
        int buffered = integer(c, MAX_BUFFERED);
        String group = c.get(GROUP_ID.name());
        return new StageSettings(
                c.get(BOOTSTRAP.name()),
                group == null || group.isBlank() ? stageName : group,
                c.get(INSTANCE_ID.name()),
                size,
                millis(c, BATCH_LINGER),
                buffered == 0 ? 2 * size : buffered,
                millis(c, BATCH_TIMEOUT),
                integer(c, RETRIES),
                millis(c, BACKOFF),
                millis(c, BACKOFF_MAX),
                millis(c, COMMIT_TIMEOUT),
                millis(c, POLL_TIMEOUT),
                InFlightPolicy.parse(ON_REVOKE.name(), c.get(ON_REVOKE.name())),
                InFlightPolicy.parse(ON_SHUTDOWN.name(), c.get(ON_SHUTDOWN.name())),
                Boolean.parseBoolean(c.get(STATIC_MEMBERSHIP.name())),
                integer(c, METRICS_PORT),
                c);
    }

    /** Layers defaults, the file, {@code MGM_*} environment and the given flags, then reads settings. */
    public static StageSettings resolve(String stageName, Map<String, String> flags) {
        return from(stageName, LayeredConfig.resolve(KEYS, flags));
    }

    /** The transactional.id; stable per instance so a restart fences the instance it replaces. */
    public String transactionalId() {
        return groupId + "-" + instanceId;
    }

    Map<String, Object> consumerConfig() {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        if (staticMembership) {
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, transactionalId());
        }
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 15_000);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxBuffered);
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG,
                (int) Math.min(Integer.MAX_VALUE, batchTimeout.plus(commitTimeout).plusSeconds(30).toMillis()));
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, transactionalId() + "-consumer");
        p.putAll(KafkaClientConfigs.passThrough(config, Kind.CONSUMER));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return p;
    }

    Map<String, Object> producerConfig() {
        Map<String, Object> p = new HashMap<>();
        int commitMs = (int) Math.min(Integer.MAX_VALUE, commitTimeout.toMillis());
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, commitMs);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, commitMs);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, commitMs / 2);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, commitMs);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, transactionalId() + "-producer");
        p.putAll(KafkaClientConfigs.passThrough(config, Kind.PRODUCER));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return p;
    }

    /** The producer's max.request.size: no single output may be larger. */
    int maxRecordBytes() {
        Object v = producerConfig().get(ProducerConfig.MAX_REQUEST_SIZE_CONFIG);
        return v == null ? 1024 * 1024 /* the producer's default */ : Integer.parseInt(v.toString().trim());
    }

    /** Settings for an Admin client (topic provisioning, lag checks). */
    public Map<String, Object> adminConfig() {
        Map<String, Object> p = new HashMap<>();
        p.put("bootstrap.servers", bootstrapServers);
        p.putAll(KafkaClientConfigs.passThrough(config, Kind.ADMIN));
        return p;
    }

    private static int integer(Map<String, String> c, ConfigKey key) {
        String v = c.get(key.name());
        try {
            return Integer.parseInt(v.trim());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(key.name() + " must be an integer, was '" + v + "'", e);
        }
    }

    private static Duration millis(Map<String, String> c, ConfigKey key) {
        String v = c.get(key.name());
        try {
            long ms = Long.parseLong(v.trim());
            if (ms < 0) {
                throw new IllegalArgumentException("negative");
            }
            return Duration.ofMillis(ms);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(key.name() + " must be a non-negative number of milliseconds, was '"
                    + v + "'", e);
        }
    }
}
