package dev.mgmstream.views;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.metrics.Health;
import dev.mgmstream.pipeline.metrics.MetricsServer;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.pipeline.stage.TerminationSignals;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The views stage: the {@link ViewsTopology} on Kafka Streams, and its HTTP server (queries, probes,
 * metrics) on {@code views.http.port}. Any number of instances with one {@code views.application.id}
 * share the partitions; each answers for every key, passing a query on to the instance that holds it.
 *
 * <pre>{@code
 * try (ViewsStage views = ViewsStage.start(config, registry, meters)) {
 *     views.awaitStop();
 * }
 * }</pre>
 */
public final class ViewsStage implements AutoCloseable {

    public static final String NAME = "views";

    private static final Logger log = LoggerFactory.getLogger(ViewsStage.class);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaStreams streams;
    private final MetricsServer server;
    private final KafkaStreamsMetrics streamsMetrics;
    private final String url;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountDownLatch stopped = new CountDownLatch(1);

    private ViewsStage(KafkaStreams streams, MetricsServer server, KafkaStreamsMetrics streamsMetrics, String url) {
        this.streams = streams;
        this.server = server;
        this.streamsMetrics = streamsMetrics;
        this.url = url;
    }

    /** Every key the stage reads, in documentation order; {@code kafka.*}, topic and registry keys come on top. */
    public static List<ConfigKey> configKeys() {
        List<ConfigKey> keys = new ArrayList<>(List.of(StageSettings.BOOTSTRAP, StageSettings.INSTANCE_ID));
        keys.addAll(ViewsConfig.KEYS);
        return keys;
    }

    /** Starts serving HTTP, then the streams; returns at once (the stores fill and become ready in the background). */
    public static ViewsStage start(Map<String, String> config, SchemaRegistryClient registry,
                                   PrometheusMeterRegistry meters) {
        ViewsConfig c = new ViewsConfig(config);
        Topology topology = ViewsTopology.build(TopicCatalogue.fromConfig(config), ViewsSerdes.of(registry, config),
                c.maxAnswers());
        // Threads enough that queries waiting on another instance do not hold up the probes.
        MetricsServer server = MetricsServer.start(meters, c.httpPort(), 8).orElseThrow();
        KafkaStreams streams;
        HostInfo self = new HostInfo(c.advertisedHost(), server.port());
        try {
            // The server comes first: with port 0 only it knows the port that application.server must name.
            streams = new KafkaStreams(topology, c.streamsProperties(self.host() + ":" + self.port()));
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
        KafkaStreamsMetrics streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(meters);
        ViewsStage stage = new ViewsStage(streams, server, streamsMetrics, "http://" + self.host() + ":" + self.port());
        ViewsQueries queries = new ViewsQueries(streams, self, new ViewsClient(Duration.ofMillis(c.queryTimeoutMs())));
        server.route("/tasks/", get(true, q -> queries.task(q.rest("/tasks/"), q.forwarded())));
        server.route("/images/", get(true, q -> queries.image(q.rest("/images/"), q.forwarded())));
        server.route("/stats", get(false, q -> queries.stats("local".equals(q.param("scope")))));
        server.route("/feed", get(false, q -> feed(queries, q)));
        // the results browser: its page at /, the images it shows under /media/
        ViewsBrowser browser = new ViewsBrowser(queries, c.imageRoots());
        server.route("/media/input/", browser.media(false));
        server.route("/media/generated/", browser.media(true));
        server.route("/", browser.page());
        server.health(NAME, stage::health);
        streams.setUncaughtExceptionHandler(e -> {
            // A failure in processing would recur on every replacement thread: stop, and let the liveness
            // probe (or the caller of awaitStop) restart the process from the last commit.
            log.error("The views stopped on an error", e);
            stage.failure.compareAndSet(null, e);
            stage.stopped.countDown();
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        log.info("Views serving on {} (results browser, tasks, images, feed, stats, health, metrics)", stage.url);
        return stage;
    }

    /** Where this instance answers, as other instances reach it. */
    public String url() {
        return url;
    }

    public int port() {
        return server.port();
    }

    public KafkaStreams streams() {
        return streams;
    }

    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure.get());
    }

    /** Live until the streams fail; ready while they run (not while they rebalance or restore). */
    public Health health() {
        KafkaStreams.State state = streams.state();
        boolean live = failure.get() == null && state != KafkaStreams.State.ERROR
                && state != KafkaStreams.State.PENDING_ERROR;
        return new Health(live, state == KafkaStreams.State.RUNNING, "streams " + state.name().toLowerCase());
    }

    /** Asks the stage to stop; {@link #awaitStop} then returns. */
    public void stop() {
        stopped.countDown();
    }

    /** Waits until {@link #stop} or a failure; returns a process exit code (0 stopped, 1 failed). */
    public int awaitStop() throws InterruptedException {
        stopped.await();
        return failure.get() == null ? 0 : 1;
    }

    public boolean awaitStop(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        stopped.countDown();
        try {
            streams.close(CLOSE_TIMEOUT);
        } finally {
            streamsMetrics.close();
            server.close();
        }
    }

    /** The stage as a process of its own: configuration from defaults, file, {@code MGM_*} environment and flags. */
    public static void main(String[] args) throws InterruptedException {
        Map<String, String> config = LayeredConfig.resolve(configKeys(), LayeredConfig.parseFlags(args));
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        int code;
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             ViewsStage views = start(config, registry, meters);
             TerminationSignals signals = TerminationSignals.onSignal(NAME, views::stop)) {
            code = views.awaitStop();
        }
        System.exit(code);
    }

    /** One GET request, as the handlers see it. */
    private record Query(HttpExchange exchange) {
        String rest(String prefix) {
            String path = exchange.getRequestURI().getPath();
            return path.length() > prefix.length() ? path.substring(prefix.length()) : "";
        }

        boolean forwarded() {
            return exchange.getRequestHeaders().containsKey(ViewsClient.FORWARDED);
        }

        String param(String name) {
            String q = exchange.getRequestURI().getRawQuery();
            if (q == null) {
                return null;
            }
            for (String pair : q.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0 && pair.substring(0, eq).equals(name)) {
                    return java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                }
            }
            return null;
        }
    }

    /** GET /feed?since=MS&after=TASK&limit=N[&scope=local]: see {@link TaskFeed}. */
    private static ViewsClient.Reply feed(ViewsQueries queries, Query q) {
        long since;
        int limit;
        try {
            since = q.param("since") == null ? 0 : Long.parseLong(q.param("since"));
            limit = q.param("limit") == null ? 200 : Integer.parseInt(q.param("limit"));
        } catch (NumberFormatException e) {
            return new ViewsClient.Reply(400, ViewsJson.error("since and limit are whole numbers").toString());
        }
        if (limit < 1 || limit > TaskFeed.MAX_LIMIT) {
            return new ViewsClient.Reply(400, ViewsJson.error("limit is 1 to " + TaskFeed.MAX_LIMIT).toString());
        }
        return queries.feed(new TaskFeed.Cursor(since, q.param("after")), limit, "local".equals(q.param("scope")));
    }

    /** A JSON query; {@code keyed}: the path names a key after the route's prefix, and a missing one is a 404. */
    private static HttpHandler get(boolean keyed, Function<Query, ViewsClient.Reply> answer) {
        return exchange -> {
            try (exchange) {
                ViewsClient.Reply reply;
                if (!"GET".equals(exchange.getRequestMethod())) {
                    reply = new ViewsClient.Reply(405, ViewsJson.error("only GET").toString());
                } else {
                    Query q = new Query(exchange);
                    boolean noKey = keyed && q.rest(exchange.getHttpContext().getPath()).isEmpty();
                    reply = noKey ? new ViewsClient.Reply(404, ViewsJson.error("give an id: "
                            + exchange.getHttpContext().getPath() + "ID").toString()) : answer.apply(q);
                }
                send(exchange, reply);
            } catch (RuntimeException e) {
                log.warn("Query {} failed", exchange.getRequestURI(), e);
                try {
                    send(exchange, new ViewsClient.Reply(500, ViewsJson.error("the query failed: " + e).toString()));
                } catch (IOException | RuntimeException headersSent) {
                    // the answer had begun: closing the exchange is all that is left
                }
            }
        };
    }

    private static void send(HttpExchange exchange, ViewsClient.Reply reply) throws IOException {
        byte[] body = (reply.body() + "\n").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json; charset=utf-8");
        if (reply.status() == 503) {
            exchange.getResponseHeaders().add("Retry-After", "1");
        }
        exchange.sendResponseHeaders(reply.status(), body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
