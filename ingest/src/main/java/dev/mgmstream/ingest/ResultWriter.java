package dev.mgmstream.ingest;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Writes results as JSON Lines, one flushed line per result as it arrives, so an interrupted run
 * keeps everything it had.
 */
public final class ResultWriter implements Closeable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Writer out;

    public ResultWriter(Writer out) {
        this.out = out;
    }

    /** A new (or emptied) file; missing parent folders are created. */
    public static ResultWriter create(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        return new ResultWriter(Files.newBufferedWriter(file, StandardCharsets.UTF_8));
    }

    public static ResultWriter to(OutputStream stream) {
        return new ResultWriter(new java.io.OutputStreamWriter(stream, StandardCharsets.UTF_8));
    }

    public synchronized void write(TaskResult r) {
        try {
            out.write(line(r));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write the result of task " + r.taskId(), e);
        }
    }

    /** The JSON object of one result, without a line break. */
    public static String line(TaskResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("task_id", r.taskId());
        put(m, "image", r.image());
        put(m, "image_id", r.imageId());
        put(m, "kind", r.kind());
        put(m, "prompt", r.prompt());
        m.put("status", r.status());
        put(m, "answer", r.answer());
        put(m, "finish_reason", r.finishReason());
        put(m, "generation_prompt", r.generationPrompt());
        put(m, "generated_image", r.generatedImage());
        put(m, "reason", r.reason());
        put(m, "latency_ms", r.latencyMs());
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void put(Map<String, Object> m, String key, Object value) {
        if (value != null) {
            m.put(key, value);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
