package dev.mgmstream.views;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The results browser: its page, scripts and styles from this jar (resources under {@value #RESOURCES}, no
 * network needed), and the images the page shows. An image is served for a task, never for a path: the
 * task's input image when it is a {@code file:} URI, or its generated image, and only when the file lies
 * under one of {@code views.image.roots} and its first bytes say it is an image.
 */
final class ViewsBrowser {

    static final String RESOURCES = "/dev/mgmstream/views/browser/";

    private static final Logger log = LoggerFactory.getLogger(ViewsBrowser.class);
    /** Resource names: folders and files of plain characters, no '..', no leading dot. */
    private static final Pattern RESOURCE = Pattern.compile("([A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*");
    private static final Map<String, String> TEXT_TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "svg", "image/svg+xml",
            "txt", "text/plain; charset=utf-8",
            "json", "application/json; charset=utf-8");
    private static final long MAX_IMAGE_BYTES = 32L << 20;

    private final ViewsQueries queries;
    private final List<Path> roots;

    ViewsBrowser(ViewsQueries queries, List<Path> roots) {
        this.queries = queries;
        this.roots = List.copyOf(roots);
    }

    /** GET / and the page's files. */
    HttpHandler page() {
        return exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getPath();
                String name = path.equals("/") ? "index.html" : path.substring(1);
                if (!"GET".equals(exchange.getRequestMethod()) && !"HEAD".equals(exchange.getRequestMethod())) {
                    sendText(exchange, 405, "only GET");
                    return;
                }
                String type = TEXT_TYPES.get(extension(name));
                if (!RESOURCE.matcher(name).matches() || name.contains("..") || type == null) {
                    sendText(exchange, 404, "no such page: " + path);
                    return;
                }
                byte[] body;
                try (InputStream in = ViewsBrowser.class.getResourceAsStream(RESOURCES + name)) {
                    if (in == null) {
                        sendText(exchange, 404, "no such page: " + path);
                        return;
                    }
                    body = in.readAllBytes();
                }
                // the page itself always fresh (a new build may change what it asks for); its libraries cached
                exchange.getResponseHeaders().add("Cache-Control", name.endsWith(".html") ? "no-cache" : "max-age=300");
                send(exchange, 200, type, body);
            }
        };
    }

    /** GET /media/input/TASK or /media/generated/TASK: the task's image, where policy allows. */
    HttpHandler media(boolean generated) {
        String prefix = generated ? "/media/generated/" : "/media/input/";
        return exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getPath();
                String taskId = path.length() > prefix.length() ? path.substring(prefix.length()) : "";
                if (taskId.isEmpty()) {
                    sendText(exchange, 404, "give a task id: " + prefix + "TASK");
                    return;
                }
                ViewsClient.Reply task = queries.task(taskId, false);
                if (task.status() != 200) {
                    send(exchange, task.status(), "application/json; charset=utf-8",
                            (task.body() + "\n").getBytes(StandardCharsets.UTF_8));
                    return;
                }
                JsonNode status = ViewsJson.JSON.readTree(task.body());
                String uri = status.path(generated ? "generated_image" : "image").asText("");
                Optional<Image> image = uri.isEmpty() ? Optional.empty() : image(uri);
                if (image.isEmpty()) {
                    sendText(exchange, 404, "task " + taskId + " has no " + (generated ? "generated" : "input")
                            + " image this server may show (only image files under views.image.roots are shown)");
                    return;
                }
                exchange.getResponseHeaders().add("Cache-Control", "max-age=3600");
                send(exchange, 200, image.get().type(), image.get().bytes());
            } catch (RuntimeException e) {
                log.warn("Image {} failed", exchange.getRequestURI(), e);
            }
        };
    }

    record Image(String type, byte[] bytes) {
    }

    /** The image a {@code file:} URI names, if it is an image file under a root; empty for anything else. */
    Optional<Image> image(String uri) {
        Path real;
        try {
            URI u = URI.create(uri);
            if (!"file".equalsIgnoreCase(u.getScheme())) {
                return Optional.empty();
            }
            real = Path.of(u).toRealPath();
        } catch (IllegalArgumentException | IOException | java.nio.file.FileSystemNotFoundException e) {
            return Optional.empty();
        }
        if (!underARoot(real) || !Files.isRegularFile(real)) {
            return Optional.empty();
        }
        try {
            if (Files.size(real) > MAX_IMAGE_BYTES) {
                return Optional.empty();
            }
            byte[] bytes = Files.readAllBytes(real);
            String type = imageType(bytes);
            return type == null ? Optional.empty() : Optional.of(new Image(type, bytes));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private boolean underARoot(Path real) {
        List<Path> realRoots = new ArrayList<>();
        for (Path root : roots) {
            try {
                realRoots.add(root.toRealPath());
            } catch (IOException e) {
                // a root that does not exist (yet: generated-images appears with the first image) holds nothing
            }
        }
        return realRoots.stream().anyMatch(real::startsWith);
    }

    /** The media type the first bytes show, for the formats a browser shows; null for anything else. */
    static String imageType(byte[] b) {
        if (starts(b, 0x89, 'P', 'N', 'G')) {
            return "image/png";
        }
        if (starts(b, 0xFF, 0xD8, 0xFF)) {
            return "image/jpeg";
        }
        if (starts(b, 'G', 'I', 'F', '8')) {
            return "image/gif";
        }
        if (b.length >= 12 && starts(b, 'R', 'I', 'F', 'F') && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
            return "image/webp";
        }
        if (starts(b, 'B', 'M') && b.length > 14) {
            return "image/bmp";
        }
        return null;
    }

    private static boolean starts(byte[] b, int... prefix) {
        if (b.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if ((b[i] & 0xFF) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static String extension(String name) {
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private static void sendText(HttpExchange exchange, int status, String text) throws IOException {
        send(exchange, status, "text/plain; charset=utf-8", (text + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().add("Content-Type", type);
        exchange.getResponseHeaders().add("X-Content-Type-Options", "nosniff");
        boolean head = "HEAD".equals(exchange.getRequestMethod());
        exchange.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
