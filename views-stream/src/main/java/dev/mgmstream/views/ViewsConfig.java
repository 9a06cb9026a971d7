package dev.mgmstream.views;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.KeyedConfig;
import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.pipeline.stage.StageSettings;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;

/**
 * The views stage's own configuration keys (the topic catalogue's, the registry client's and the
 * {@code kafka.*} pass-through keys come on top), each documented in docs/configuration.md, and the
 * Kafka Streams configuration that follows from them.
 */
public final class ViewsConfig extends KeyedConfig {

    public static final ConfigKey APPLICATION_ID = new ConfigKey("views.application.id", "views",
            "Kafka Streams application.id: the consumer group of every views instance, and the prefix of its internal "
                    + "topics (changelogs, repartitions) and transactional ids.");
    public static final ConfigKey HTTP_PORT = new ConfigKey("views.http.port", "7070",
            "HTTP port of the queries (/tasks/ID, /images/ID, /stats), the probes (/health/live, /health/ready) and "
                    + "/metrics; 0 picks a free port. Other instances forward queries here.");
    public static final ConfigKey ADVERTISED_HOST = new ConfigKey("views.advertised.host", "",
            "Host name other views instances reach this one at (with views.http.port it is Kafka Streams' "
                    + "application.server); empty means this machine's host name (a StatefulSet pod's name, which "
                    + "needs a headless Service to resolve).");
    public static final ConfigKey STATE_DIR = new ConfigKey("views.state.dir", "data/views-state",
            "Folder of the local state stores (RocksDB), one subfolder per instance id (stage.instance.id); a restart "
                    + "on the same folder restores only what changed since.");
    public static final ConfigKey STANDBY_REPLICAS = new ConfigKey("views.standby.replicas", "1",
            "Warm copies of each store on other instances, so a failed instance's keys are served again in seconds "
                    + "rather than after a replay of the changelog.");
    public static final ConfigKey THREADS = new ConfigKey("views.threads", "1",
            "Stream threads of this instance.");
    public static final ConfigKey COMMIT_INTERVAL = new ConfigKey("views.commit.interval.ms", "100",
            "How often the views commit (each commit ends a transaction): the longest a change waits before "
                    + "read_committed readers of captions see it.");
    public static final ConfigKey REPORT_MAX_ANSWERS = new ConfigKey("views.image.report.max.answers", "100",
            "Answers an image report keeps (the latest); older ones are dropped from the list but still counted.");
    public static final ConfigKey QUERY_TIMEOUT = new ConfigKey("views.query.timeout.ms", "5000",
            "Longest a query forwarded to the instance that owns the key may take.");
    public static final ConfigKey URL = new ConfigKey("views.url", "http://localhost:7070",
            "Where 'mgm results --task' asks (any views instance: it forwards to the owner).");
    public static final ConfigKey IMAGE_ROOTS = new ConfigKey("views.image.roots", "",
            "Comma-separated folders whose image files the results browser may show (/media/input/TASK, "
                    + "/media/generated/TASK): a task's file: image or generated image is served only from under one of "
                    + "them, and only if it is a PNG, JPEG, GIF, WebP or BMP file. Empty: no images are served. The "
                    + "embedded pipeline sets the task file's folders and the generated-images folder.");

    public static final List<ConfigKey> KEYS = List.of(APPLICATION_ID, HTTP_PORT, ADVERTISED_HOST, STATE_DIR,
            STANDBY_REPLICAS, THREADS, COMMIT_INTERVAL, REPORT_MAX_ANSWERS, QUERY_TIMEOUT, URL, IMAGE_ROOTS);

    public ViewsConfig(Map<String, String> config) {
        super(KEYS, config);
        if (maxAnswers() < 1) {
            throw new IllegalArgumentException(REPORT_MAX_ANSWERS.name() + " must be >= 1, was " + maxAnswers());
        }
        if (httpPort() < 0) {
            throw new IllegalArgumentException(HTTP_PORT.name() + " must be >= 0: the views answer queries over HTTP");
        }
    }

    public int httpPort() {
        return (int) number(HTTP_PORT);
    }

    public int maxAnswers() {
        return (int) number(REPORT_MAX_ANSWERS);
    }

    public long queryTimeoutMs() {
        return number(QUERY_TIMEOUT);
    }

    /** The folders of {@link #IMAGE_ROOTS}, as given (resolved to real paths when an image is asked for). */
    public List<Path> imageRoots() {
        return list(IMAGE_ROOTS).stream().map(Path::of).toList();
    }

    public String applicationId() {
        return text(APPLICATION_ID);
    }

    public String instanceId() {
        String id = all().get(StageSettings.INSTANCE_ID.name());
        return id == null || id.isBlank() ? StageSettings.INSTANCE_ID.defaultValue() : id.trim();
    }

    public String advertisedHost() {
        String host = text(ADVERTISED_HOST);
        if (!host.isEmpty()) {
            return host;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /**
     * The Kafka Streams configuration of an instance that others reach at {@code applicationServer}
     * (host:port). {@code kafka.X} keys reach every client Streams opens, {@code kafka.consumer.X},
     * {@code kafka.producer.X} and {@code kafka.admin.X} one kind; a Streams setting itself may be given as
     * {@code kafka.X} too (kafka.num.stream.threads).
     */
    public Properties streamsProperties(String applicationServer) {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, all().getOrDefault(StageSettings.BOOTSTRAP.name(),
                StageSettings.BOOTSTRAP.defaultValue()));
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId());
        p.put(StreamsConfig.CLIENT_ID_CONFIG, applicationId() + "-" + instanceId());
        // Every input is written in transactions; exactly_once_v2 reads them read_committed and writes the
        // captions, the changelogs and the offsets in one transaction per commit.
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, applicationServer);
        p.put(StreamsConfig.STATE_DIR_CONFIG, Path.of(text(STATE_DIR)).resolve(instanceId()).toString());
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, (int) number(STANDBY_REPLICAS));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, (int) number(THREADS));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, number(COMMIT_INTERVAL));
        // A record that does not decode (corrupt bytes, a schema the registry does not have) says nothing a
        // view could show: it is logged and skipped rather than stopping every view. The stage that wrote it
        // has already dead-lettered or answered it.
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndContinueExceptionHandler.class);
        // the kafka.* pass-through as every client of the project reads it, last so that it wins
        KafkaClientConfigs.streams(p.getProperty(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG), all()).forEach(p::put);
        return p;
    }
}
