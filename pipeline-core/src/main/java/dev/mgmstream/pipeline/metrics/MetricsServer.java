package dev.mgmstream.pipeline.metrics;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** Serves a registry at {@code /metrics} in the Prometheus text format, on the JDK's own HTTP server. */
public final class MetricsServer implements AutoCloseable {

    private final HttpServer server;

    private MetricsServer(HttpServer server) {
        this.server = server;
    }

    /**
     * @param port 0 for a free port; -1 starts nothing and returns empty
     */
    public static Optional<MetricsServer> start(PrometheusMeterRegistry registry, int port) {
        if (port < 0) {
            return Optional.empty();
        }
        try {
            HttpServer http = HttpServer.create(new InetSocketAddress(port), 0);
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
            return Optional.of(new MetricsServer(http));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot serve metrics on port " + port, e);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
