package dev.mgmstream.views;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Asks a views instance over HTTP: the instances of each other, and {@code mgm results --task}. */
public final class ViewsClient {

    /** Marks a query one instance passed to another, which then answers from its own stores or not at all. */
    static final String FORWARDED = "X-Mgm-Forwarded-By";

    private final HttpClient http;
    private final Duration timeout;

    public ViewsClient(Duration timeout) {
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    /** The status and body of {@code GET base + path}. */
    public Reply get(String base, String path) throws IOException, InterruptedException {
        return get(base, path, null);
    }

    Reply get(String base, String path, String forwardedBy) throws IOException, InterruptedException {
        String root = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(root + path)).timeout(timeout).GET();
        if (forwardedBy != null) {
            request.header(FORWARDED, forwardedBy);
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return new Reply(response.statusCode(), response.body());
    }

    /** {@code /tasks/ID}, the id escaped so that any character (a '/', a space) survives. */
    public static String taskPath(String taskId) {
        return "/tasks/" + segment(taskId);
    }

    public static String imagePath(String imageId) {
        return "/images/" + segment(imageId);
    }

    private static String segment(String id) {
        return URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** An HTTP status and a JSON body. */
    public record Reply(int status, String body) {
    }
}
