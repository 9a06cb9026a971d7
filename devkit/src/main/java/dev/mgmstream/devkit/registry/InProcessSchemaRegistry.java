package dev.mgmstream.devkit.registry;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A schema registry inside this JVM, speaking the Confluent REST API over HTTP and storing its schemas in
 * a compacted Kafka topic. Starting it reads the topic to its end, so ids survive restarts.
 *
 * <pre>{@code
 * try (InProcessSchemaRegistry registry = InProcessSchemaRegistry.start(kafka.bootstrapServers(), 0)) {
 *     Map<String, String> config = Map.of("schema.registry.url", registry.url());
 * }
 * }</pre>
 */
public final class InProcessSchemaRegistry implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(InProcessSchemaRegistry.class);
    private static final int THREADS = 4;

    private final SchemaRegistryService service;
    private final HttpServer server;
    private final ExecutorService executor;
    private final String url;

    private InProcessSchemaRegistry(SchemaRegistryService service, HttpServer server, ExecutorService executor, String url) {
        this.service = service;
        this.server = server;
        this.executor = executor;
        this.url = url;
    }

    /** Starts a registry with default settings on {@code port} (0 for a free one), storing in {@code _schemas}. */
    public static InProcessSchemaRegistry start(String bootstrapServers, int port) {
        return start(RegistryServerConfig.of(bootstrapServers, port));
    }

    public static InProcessSchemaRegistry start(RegistryServerConfig config) {
        return start(config, null, null);
    }

    /**
     * A registry that speaks TLS and asks every caller for one Authorization header: the way a secured
     * production registry behaves, to test clients against on one machine.
     *
     * @param tls                   the server's TLS context, or null for plain HTTP
     * @param requiredAuthorization the Authorization header every request must carry, or null for none
     */
    public static InProcessSchemaRegistry start(RegistryServerConfig config, SSLContext tls,
                                                String requiredAuthorization) {
        SchemaRegistryService service = new SchemaRegistryService(new SchemaLog(config), config.defaultCompatibility());
        ExecutorService executor = Executors.newFixedThreadPool(THREADS, daemonThreads());
        try {
            InetSocketAddress address = new InetSocketAddress(config.host(), config.port());
            HttpServer server;
            if (tls == null) {
                server = HttpServer.create(address, 0);
            } else {
                HttpsServer https = HttpsServer.create(address, 0);
                https.setHttpsConfigurator(new HttpsConfigurator(tls));
                server = https;
            }
            HttpHandler api = new RegistryHttpHandler(service);
            server.createContext("/", requiredAuthorization == null ? api : exchange -> {
                if (!requiredAuthorization.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                    try (exchange) {
                        byte[] body = "{\"error_code\":401,\"message\":\"Unauthorized\"}".getBytes(
                                java.nio.charset.StandardCharsets.UTF_8);
                        exchange.sendResponseHeaders(401, body.length);
                        exchange.getResponseBody().write(body);
                    }
                    return;
                }
                api.handle(exchange);
            });
            server.setExecutor(executor);
            server.start();
            InetAddress bound = server.getAddress().getAddress();
            String host = bound.isAnyLocalAddress() ? InetAddress.getLoopbackAddress().getHostAddress() : bound.getHostAddress();
            String url = (tls == null ? "http://" : "https://") + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.getAddress().getPort();
            LOG.info("Schema registry at {} keeps its schemas in topic {} on {}", url, config.topic(), config.bootstrapServers());
            return new InProcessSchemaRegistry(service, server, executor, url);
        } catch (IOException e) {
            executor.shutdownNow();
            service.close();
            throw new UncheckedIOException("Could not open the schema registry on " + config.host() + ":" + config.port(), e);
        } catch (RuntimeException e) {
            executor.shutdownNow();
            service.close();
            throw e;
        }
    }

    /** Base URL for {@code schema.registry.url}, without a trailing slash. */
    public String url() {
        return url;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        service.close();
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, "schema-registry-http-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
