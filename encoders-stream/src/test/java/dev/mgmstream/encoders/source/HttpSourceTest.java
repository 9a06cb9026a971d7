package dev.mgmstream.encoders.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpServer;
import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The http(s) policy against a server on the loopback interface: off by default, allow-list, internal
 * addresses refused unless allowed, status codes, redirects and size cap rejected; a busy server, a timeout
 * and a refused connection retried.
 */
class HttpSourceTest {

    private HttpServer server;
    private String base;
    private final AtomicInteger busyOnce = new AtomicInteger();

    @BeforeEach
    void serve() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/ok.png", ex -> respond(ex, 200, new byte[] {1, 2, 3, 4}));
        server.createContext("/big.png", ex -> respond(ex, 200, new byte[5000]));
        server.createContext("/moved.png", ex -> {
            ex.getResponseHeaders().add("Location", "http://169.254.169.254/latest/meta-data/");
            respond(ex, 302, new byte[0]);
        });
        server.createContext("/busy-once.png", ex -> respond(ex, busyOnce.getAndIncrement() == 0 ? 503 : 200,
                new byte[] {7, 7}));
        server.createContext("/status/", ex -> {
            String path = ex.getRequestURI().getPath();
            respond(ex, Integer.parseInt(path.substring(path.lastIndexOf('/') + 1)), "status page".getBytes());
        });
        server.createContext("/slow.png", ex -> {
            try {
                Thread.sleep(1500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            respond(ex, 200, new byte[] {1});
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private static void respond(com.sun.net.httpserver.HttpExchange ex, int status, byte[] body) throws java.io.IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private static HttpSource source(boolean enabled, List<String> hosts, boolean allowPrivate) {
        return new HttpSource(new HttpSource.Settings(enabled, hosts, allowPrivate, Duration.ofSeconds(2),
                Duration.ofMillis(500)));
    }

    private static ImageRejectedException refusal(HttpSource s, String uri, long max) {
        return catchThrowableOfType(() -> s.fetch(URI.create(uri), max), ImageRejectedException.class);
    }

    @Test
    void offByDefaultThenOnlyForAllowedHostsAndNeverInternalAddressesUnlessAllowed() throws Exception {
        assertThat(refusal(source(false, List.of("127.0.0.1"), true), base + "/ok.png", 100).getMessage())
                .contains("turned off");
        assertThat(refusal(source(true, List.of("images.example.com"), true), base + "/ok.png", 100).getMessage())
                .contains("allow-list");
        ImageRejectedException internal = refusal(source(true, List.of("127.0.0.1"), false), base + "/ok.png", 100);
        assertThat(internal.reason()).isEqualTo(Reason.NOT_ALLOWED);
        assertThat(internal.getMessage()).contains("loopback");
        assertThat(source(true, List.of("127.0.0.1"), true).fetch(URI.create(base + "/ok.png"), 100))
                .containsExactly(1, 2, 3, 4);
    }

    private static TransientSourceException retry(HttpSource s, String uri) {
        return catchThrowableOfType(() -> s.fetch(URI.create(uri), 100), TransientSourceException.class);
    }

    @Test
    void statusRedirectAndSizeAreRejections() {
        HttpSource s = source(true, List.of("127.0.0.1"), true);
        assertThat(refusal(s, base + "/missing.png", 100).reason()).isEqualTo(Reason.NOT_FOUND);
        ImageRejectedException moved = refusal(s, base + "/moved.png", 100);
        assertThat(moved.reason()).isEqualTo(Reason.FETCH_FAILED);
        assertThat(moved.getMessage()).contains("redirects are not followed");
        assertThat(refusal(s, base + "/big.png", 1000).reason()).isEqualTo(Reason.TOO_MANY_BYTES);
        assertThat(refusal(s, "http://user:pw@127.0.0.1:1/x.png", 100).getMessage()).contains("credentials");
        for (int status : new int[] {400, 401, 403, 405, 451}) {
            ImageRejectedException refused = refusal(s, base + "/status/" + status, 100);
            assertThat(refused).as("HTTP %d", status).isNotNull();
            assertThat(refused.reason()).isEqualTo(Reason.FETCH_FAILED);
            assertThat(refused.getMessage()).startsWith("HTTP " + status + " for ");
        }
    }

    @Test
    void aBusyServerATimeoutOrARefusedConnectionIsRetriedNotRejected() throws Exception {
        HttpSource s = source(true, List.of("127.0.0.1"), true);
        for (int status : new int[] {408, 429, 500, 502, 503, 504}) {
            assertThat(retry(s, base + "/status/" + status)).as("HTTP %d", status).isNotNull()
                    .hasMessageStartingWith("HTTP " + status + " for ");
        }

        int closedPort;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = free.getLocalPort();
        }
        assertThat(retry(s, "http://127.0.0.1:" + closedPort + "/x.png")).hasMessageContaining("cannot fetch");

        assertThat(retry(s, base + "/busy-once.png")).hasMessageContaining("HTTP 503");
        assertThat(s.fetch(URI.create(base + "/busy-once.png"), 100)).as("the same request, once the server is back")
                .containsExactly(7, 7);
        // Last: the server's one thread sleeps through it, and would hold any request after it.
        assertThat(retry(s, base + "/slow.png")).hasMessageContaining("timed out");
    }

    @Test
    void internalAddressKindsAreRecognised() throws Exception {
        assertThat(HttpSource.internalKind(InetAddress.getByName("10.1.2.3"))).isEqualTo("private");
        assertThat(HttpSource.internalKind(InetAddress.getByName("192.168.0.1"))).isEqualTo("private");
        assertThat(HttpSource.internalKind(InetAddress.getByName("169.254.169.254"))).isEqualTo("link-local");
        assertThat(HttpSource.internalKind(InetAddress.getByName("::1"))).isEqualTo("loopback");
        assertThat(HttpSource.internalKind(InetAddress.getByName("fd00::1"))).isEqualTo("unique-local");
        assertThat(HttpSource.internalKind(InetAddress.getByName("100.64.0.1"))).isEqualTo("carrier-grade NAT");
        assertThat(HttpSource.internalKind(InetAddress.getByName("0.0.0.0"))).isEqualTo("wildcard");
        assertThat(HttpSource.internalKind(InetAddress.getByName("93.184.216.34"))).isNull();
    }
}
