package dev.mgmstream.pipeline.metrics;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * Serves a registry at {@code /metrics} in the Prometheus text format, and Kubernetes' probes at
 * {@code /health/live} and {@code /health/ready}, on the JDK's own HTTP server. Serving also binds the
 * JVM's and the process's own meters (memory, GC, threads, CPU, uptime) to the registry.
 *
 * <p>The probes answer 200 or 503 with one line per registered check: live while no check says a
 * restart is needed; ready once at least one check is registered and every one is ready.
 */
public final class MetricsServer implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService executor;
    private final Map<String, Health.Check> checks = new ConcurrentHashMap<>();

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Adds (or replaces) a named check that the probes ask. */
    public MetricsServer health(String name, Health.Check check) {
        checks.put(name, check);
        return this;
    }

    public void removeHealth(String name) {
        checks.remove(name);
    }

    /**
     * @param port 0 for a free port; -1 starts nothing and returns empty
     */
    public static Optional<MetricsServer> start(PrometheusMeterRegistry registry, int port) {
        return start(registry, port, 1);
    }

    /**
     * As above, answering up to {@code threads} requests at once: a stage that serves an API of its own
     * ({@link #route}) whose answers may wait on another process needs more than the JDK's one thread.
     */
    public static Optional<MetricsServer> start(PrometheusMeterRegistry registry, int port, int threads) {
        if (port < 0) {
            return Optional.empty();
        }
        bindProcessMeters(registry);
        try {
            HttpServer http = HttpServer.create(new InetSocketAddress(port), 0);
            ExecutorService executor = threads > 1 ? Executors.newFixedThreadPool(threads, daemonThreads()) : null;
            http.setExecutor(executor);
            MetricsServer served = new MetricsServer(http, executor);
            http.createContext("/health/live", exchange -> served.answer(exchange, true));
            http.createContext("/health/ready", exchange -> served.answer(exchange, false));
            http.createContext("/metrics", exchange -> {
                try (exchange) {
                    byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                    exchange.sendResponseHeaders(200, body.length);
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(body);
                    }
                }
            });
            http.start();
            return Optional.of(served);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot serve metrics on port " + port, e);
        }
    }

    /** Serves {@code handler} under {@code path} too, next to the metrics and the probes. */
    public MetricsServer route(String path, HttpHandler handler) {
        server.createContext(path, handler);
        return this;
    }

    private static java.util.concurrent.ThreadFactory daemonThreads() {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, "http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private void answer(HttpExchange exchange, boolean liveness) throws IOException {
        try (exchange) {
            boolean ok = liveness || !checks.isEmpty();
            StringBuilder text = new StringBuilder();
            for (Map.Entry<String, Health.Check> c : new TreeMap<>(checks).entrySet()) {
                Health h;
                try {
                    h = c.getValue().health();
                } catch (RuntimeException e) {
                    h = new Health(true, false, "check failed: " + e);
                }
                boolean good = liveness ? h.live() : h.ready();
                ok &= good;
                text.append(c.getKey()).append(": ").append(good ? "ok" : "not ok").append(" (")
                        .append(h.detail()).append(")\n");
            }
            if (checks.isEmpty()) {
                text.append(liveness ? "up\n" : "starting\n");
            }
            byte[] body = text.toString().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(ok ? 200 : 503, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static void bindProcessMeters(MeterRegistry registry) {
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        // Left unclosed on purpose: it listens to GC notifications for as long as the process serves metrics.
        @SuppressWarnings("resource")
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        if (executor != null) {
            executor.shutdownNow();
        }
    }
}
