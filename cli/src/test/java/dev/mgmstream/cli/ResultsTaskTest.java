package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code mgm results --task}: one task's status from a views instance, which a stub plays here. */
class ResultsTaskTest {

    private HttpServer views;
    private final List<String> asked = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        views = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        views.createContext("/tasks/", exchange -> {
            try (exchange) {
                String id = exchange.getRequestURI().getPath().substring("/tasks/".length());
                asked.add(id);
                boolean known = id.equals("t 1/a");
                byte[] body = (known ? "{\"task_id\":\"t 1/a\",\"state\":\"answered\",\"answer\":\"red\"}\n"
                        : "{\"error\":\"no task '" + id + "' on any topic the views read\"}\n").getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(known ? 200 : 404, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        views.start();
    }

    @AfterEach
    void stop() {
        views.stop(0);
    }

    private String url() {
        return "http://127.0.0.1:" + views.getAddress().getPort();
    }

    @Test
    void printsTheTasksStatusAsOneJsonLineWithoutABroker() {
        Object[] r = MgmTest.mgm("results", "--task", "t 1/a", "--views-url", url());
        assertThat(r[0]).isEqualTo(0);
        assertThat((String) r[1]).isEqualTo("{\"task_id\":\"t 1/a\",\"state\":\"answered\",\"answer\":\"red\"}"
                + System.lineSeparator());
        assertThat(asked).containsExactly("t 1/a");
    }

    @Test
    void anUnknownTaskExitsOneAndUnreachableViewsThree() {
        Object[] unknown = MgmTest.mgm("results", "--task", "nope", "--set", "views.url=" + url());
        assertThat(unknown[0]).isEqualTo(1);
        assertThat((String) unknown[2]).contains("no task 'nope'");

        String gone = url();
        views.stop(0);
        Object[] down = MgmTest.mgm("results", "--task", "t1", "--views-url", gone);
        assertThat(down[0]).isEqualTo(3);
        assertThat((String) down[2]).contains("did not answer").contains("mgm stage views");
    }
}
