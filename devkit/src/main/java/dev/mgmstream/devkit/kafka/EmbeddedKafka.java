package dev.mgmstream.devkit.kafka;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka (broker and KRaft controller in one process) running inside this JVM.
 *
 * <p>It is the same server code as a production broker ({@link KafkaRaftServer}), so transactions,
 * consumer groups and compaction behave as they do in production; only replication is absent, which
 * is why every internal topic is configured with replication factor 1 and min ISR 1.
 *
 * <pre>{@code
 * try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults())) {
 *     String bootstrap = kafka.bootstrapServers();
 * }
 * }</pre>
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final int NODE_ID = 1;
    private static final int PORT_ATTEMPTS = 3;

    private final KafkaRaftServer server;
    private final Path dataDir;
    private final boolean deleteOnClose;
    private final String bootstrapServers;
    private boolean closed;

    private EmbeddedKafka(KafkaRaftServer server, Path dataDir, boolean deleteOnClose, String bootstrapServers) {
        this.server = server;
        this.dataDir = dataDir;
        this.deleteOnClose = deleteOnClose;
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * Formats the data directory if it is new, starts the node and returns once a transactional
     * record has really been produced and read back with {@code read_committed}.
     */
    public static EmbeddedKafka start(Options options) {
        boolean temporary = options.dataDir().isEmpty();
        Path dir = options.dataDir().orElseGet(EmbeddedKafka::tempDir);
        long started = System.nanoTime();
        RuntimeException last = null;
        // Free ports are found by binding and releasing them, so another process can grab one in
        // between; a bind failure is therefore retried with fresh ports rather than reported.
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            int brokerPort = options.port() > 0 ? options.port() : freePort();
            int controllerPort = freePort();
            KafkaRaftServer server = null;
            try {
                Map<String, Object> props = brokerProperties(options, dir, brokerPort, controllerPort);
                formatIfNew(dir, props);
                server = new KafkaRaftServer(new KafkaConfig(props, false), Time.SYSTEM);
                server.startup();
                String bootstrap = "localhost:" + brokerPort;
                EmbeddedKafka kafka = new EmbeddedKafka(server, dir, temporary && !options.keepData(), bootstrap);
                try {
                    ReadinessProbe.await(bootstrap, options.readinessTimeout());
                } catch (RuntimeException e) {
                    kafka.close();
                    throw e;
                }
                log.info("In-process Kafka ready at {} (data {}) in {} ms", bootstrap, dir,
                        Duration.ofNanos(System.nanoTime() - started).toMillis());
                return kafka;
            } catch (RuntimeException e) {
                last = e;
                if (server != null) {
                    shutdownQuietly(server);
                }
                if (!isBindFailure(e) || options.port() > 0) {
                    break;
                }
                log.warn("Port clash starting in-process Kafka (attempt {}), retrying with new ports", attempt);
            }
        }
        if (temporary && !options.keepData()) {
            deleteRecursively(dir);
        }
        throw new IllegalStateException("In-process Kafka did not start (data directory " + dir + ")", last);
    }

    /** Host and port for the clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** Where the node keeps its logs and metadata; reusing it on the next start keeps all topics. */
    public Path dataDir() {
        return dataDir;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        shutdownQuietly(server);
        if (deleteOnClose) {
            deleteRecursively(dataDir);
        }
    }

    private static Map<String, Object> brokerProperties(Options options, Path dir, int brokerPort, int controllerPort) {
        Map<String, Object> p = new HashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", String.valueOf(NODE_ID));
        p.put("controller.quorum.voters", NODE_ID + "@localhost:" + controllerPort);
        p.put("listeners", "PLAINTEXT://localhost:" + brokerPort + ",CONTROLLER://localhost:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://localhost:" + brokerPort);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", dir.toAbsolutePath().toString());
        p.put("metadata.log.dir", dir.toAbsolutePath().toString());
        // A single node cannot replicate: every internal topic must accept RF 1 / min ISR 1,
        // or transactions and consumer groups never become available.
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", String.valueOf(options.internalTopicPartitions()));
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", String.valueOf(options.internalTopicPartitions()));
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("min.insync.replicas", "1");
        p.put("default.replication.factor", "1");
        p.put("num.partitions", "1");
        p.put("auto.create.topics.enable", String.valueOf(options.autoCreateTopics()));
        // Tests start consumers one after another; waiting 3 s for more members only slows them.
        p.put("group.initial.rebalance.delay.ms", "0");
        // Two small cores: keep the broker's own thread pools small.
        p.put("num.network.threads", "2");
        p.put("num.io.threads", "2");
        p.put("background.threads", "2");
        p.put("log.cleaner.dedupe.buffer.size", String.valueOf(2 * 1024 * 1024));
        for (Listener l : options.listeners()) {
            // further listeners beside PLAINTEXT (which the readiness probe, the broker itself and the
            // in-process registry keep using); their security settings come as listener.name.* properties
            String at = l.name() + "://localhost:" + l.port();
            p.put("listeners", p.get("listeners") + "," + at);
            p.put("advertised.listeners", p.get("advertised.listeners") + "," + at);
            p.put("listener.security.protocol.map", p.get("listener.security.protocol.map") + "," + l.name() + ":"
                    + l.securityProtocol());
        }
        p.putAll(options.brokerProperties());
        return p;
    }

    private static void formatIfNew(Path dir, Map<String, Object> props) {
        if (Files.exists(dir.resolve("meta.properties"))) {
            return;
        }
        try {
            Files.createDirectories(dir);
            Formatter formatter = new Formatter()
                    .setNodeId(NODE_ID)
                    .setClusterId(Uuid.randomUuid().toString())
                    .setDirectories(List.of(dir.toAbsolutePath().toString()))
                    .setMetadataLogDirectory(dir.toAbsolutePath().toString())
                    .setControllerListenerName(String.valueOf(props.get("controller.listener.names")))
                    .setPrintStream(new PrintStream(OutputStream.nullOutputStream()));
            formatter.run();
        } catch (Exception e) {
            throw new IllegalStateException("Cannot format Kafka storage in " + dir, e);
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("No free local port", e);
        }
    }

    private static boolean isBindFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException
                    || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
                return true;
            }
        }
        return false;
    }

    private static void shutdownQuietly(KafkaRaftServer server) {
        try {
            server.shutdown();
            server.awaitShutdown();
        } catch (RuntimeException e) {
            log.warn("In-process Kafka did not shut down cleanly", e);
        }
    }

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("mgm-kafka-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("Could not delete {}", dir, e);
        }
    }

    /**
     * How to start the node.
     *
     * @param dataDir                 where to keep data; empty means a temporary directory
     * @param keepData                keep a temporary directory after {@link #close()} (for post-mortems)
     * @param port                    broker port; 0 picks a free one
     * @param internalTopicPartitions partitions of the offsets and transaction-state topics; fewer start faster
     * @param autoCreateTopics        whether producing to an unknown topic creates it (off: provisioning is explicit)
     * @param readinessTimeout        how long the produce-and-consume readiness check may take
     * @param brokerProperties        any further broker settings, applied last
     * @param listeners               listeners besides PLAINTEXT, e.g. a SASL_SSL one for security tests
     */
    public record Options(Optional<Path> dataDir, boolean keepData, int port, int internalTopicPartitions,
                          boolean autoCreateTopics, Duration readinessTimeout, Map<String, String> brokerProperties,
                          List<Listener> listeners) {

        public Options(Optional<Path> dataDir, boolean keepData, int port, int internalTopicPartitions,
                       boolean autoCreateTopics, Duration readinessTimeout, Map<String, String> brokerProperties) {
            this(dataDir, keepData, port, internalTopicPartitions, autoCreateTopics, readinessTimeout, brokerProperties,
                    List.of());
        }

        public Options {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be 0 (free) or a TCP port, was " + port);
            }
            if (internalTopicPartitions < 1) {
                throw new IllegalArgumentException("internalTopicPartitions must be >= 1");
            }
            brokerProperties = Map.copyOf(brokerProperties);
            listeners = List.copyOf(listeners);
        }

        public static Options defaults() {
            return new Options(Optional.empty(), false, 0, 4, false, Duration.ofSeconds(60), Map.of());
        }

        /** Keep topics between runs by pointing every start at the same directory. */
        public Options withDataDir(Path dir) {
            return new Options(Optional.of(dir), keepData, port, internalTopicPartitions, autoCreateTopics,
                    readinessTimeout, brokerProperties, listeners);
        }

        public Options withPort(int brokerPort) {
            return new Options(dataDir, keepData, brokerPort, internalTopicPartitions, autoCreateTopics,
                    readinessTimeout, brokerProperties, listeners);
        }

        public Options withAutoCreateTopics(boolean enabled) {
            return new Options(dataDir, keepData, port, internalTopicPartitions, enabled, readinessTimeout,
                    brokerProperties, listeners);
        }

        public Options withBrokerProperty(String key, String value) {
            Map<String, String> merged = new HashMap<>(brokerProperties);
            merged.put(key, value);
            return new Options(dataDir, keepData, port, internalTopicPartitions, autoCreateTopics,
                    readinessTimeout, merged, listeners);
        }

        /** One more listener, named {@code name} (also its listener.name.* prefix, lower-cased), on a fixed port. */
        public Options withListener(String name, int listenerPort, String securityProtocol) {
            List<Listener> more = new java.util.ArrayList<>(listeners);
            more.add(new Listener(name, listenerPort, securityProtocol));
            return new Options(dataDir, keepData, port, internalTopicPartitions, autoCreateTopics, readinessTimeout,
                    brokerProperties, more);
        }
    }

    /** A further listener: its name, port and security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL). */
    public record Listener(String name, int port, String securityProtocol) {}
}
