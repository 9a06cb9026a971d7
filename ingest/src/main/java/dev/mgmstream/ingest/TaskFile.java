package dev.mgmstream.ingest;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mgmstream.schemas.avro.GenerationOptions;
import dev.mgmstream.schemas.avro.TaskKind;

/**
 * Reads a task file: one JSON object per line,
 * {@code {"task_id": "optional", "image": "path or URI", "kind": "caption" | "vqa" | "generate", "prompt": "..."}},
 * optionally with {@code "attributes": {...}} (strings, kept with the answer and in the lake) and
 * {@code "options": {"max_new_tokens", "temperature", "top_p", "seed"}}.
 *
 * <p>A line that is not such an object is reported with its number and reason, and the others are
 * still read. Blank lines are skipped. A task without {@code task_id} gets a random one.
 */
public final class TaskFile {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("task_id", "image", "kind", "prompt", "attributes", "options");
    private static final Set<String> OPTION_FIELDS = Set.of("max_new_tokens", "temperature", "top_p", "seed");

    /** A line that could not be read as a task. */
    public record LineError(int line, String taskId, String message) {
        @Override
        public String toString() {
            return "line " + line + ": " + message;
        }
    }

    /** Everything a task file held: the tasks in file order, and the lines that were not tasks. */
    public record Contents(Path folder, List<TaskSpec> tasks, List<LineError> errors) {
        public Contents {
            tasks = List.copyOf(tasks);
            errors = List.copyOf(errors);
        }
    }

    private TaskFile() {
    }

    public static Contents read(Path file) throws IOException {
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            Path folder = file.toAbsolutePath().getParent();
            return parse(reader.lines().iterator(), folder);
        }
    }

    static Contents parse(Iterator<String> lines, Path folder) {
        List<TaskSpec> tasks = new ArrayList<>();
        List<LineError> errors = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        int number = 0;
        while (lines.hasNext()) {
            String text = lines.next();
            number++;
            if (text.isBlank()) {
                continue;
            }
            try {
                TaskSpec task = parseLine(number, text);
                Integer first = seen.putIfAbsent(task.taskId(), number);
                if (first != null) {
                    throw new BadLine(task.taskId(), "task_id '" + task.taskId() + "' was already used on line " + first);
                }
                tasks.add(task);
            } catch (BadLine e) {
                errors.add(new LineError(number, e.taskId, e.getMessage()));
            }
        }
        return new Contents(folder, tasks, errors);
    }

    static TaskSpec parseLine(int number, String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new BadLine(null, "not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (node == null || !node.isObject()) {
            throw new BadLine(null, "expected a JSON object, found " + (node == null ? "nothing" : node.getNodeType()));
        }
        String taskId = optionalText(node, "task_id", null);
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new BadLine(taskId, "unknown field '" + name + "' (known: task_id, image, kind, prompt, attributes, options)");
            }
        }
        String image = optionalText(node, "image", taskId);
        if (image == null || image.isBlank()) {
            throw new BadLine(taskId, "'image' is required: a path (relative to the task file's folder) or a URI");
        }
        String kindText = optionalText(node, "kind", taskId);
        if (kindText == null) {
            throw new BadLine(taskId, "'kind' is required: caption, vqa or generate");
        }
        TaskKind kind = kind(kindText, taskId);
        String prompt = optionalText(node, "prompt", taskId);
        try {
            return new TaskSpec(number, taskId == null ? UUID.randomUUID().toString() : taskId, image, kind, prompt,
                    attributes(node.get("attributes"), taskId), options(node.get("options"), taskId));
        } catch (IllegalArgumentException e) {
            throw new BadLine(taskId, e.getMessage());
        }
    }

    public static String kindName(TaskKind kind) {
        return kind.name().toLowerCase(Locale.ROOT);
    }

    private static TaskKind kind(String text, String taskId) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "caption" -> TaskKind.CAPTION;
            case "vqa" -> TaskKind.VQA;
            case "generate" -> TaskKind.GENERATE;
            default -> throw new BadLine(taskId, "unknown kind '" + text + "' (expected caption, vqa or generate)");
        };
    }

    private static String optionalText(JsonNode node, String field, String taskId) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new BadLine(taskId, "'" + field + "' must be a string, found " + v.getNodeType());
        }
        return v.asText();
    }

    private static Map<String, String> attributes(JsonNode node, String taskId) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new BadLine(taskId, "'attributes' must be an object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> {
            JsonNode v = e.getValue();
            if (!v.isValueNode() || v.isNull()) {
                throw new BadLine(taskId, "attribute '" + e.getKey() + "' must be a string, number or boolean");
            }
            out.put(e.getKey(), v.asText());
        });
        return out;
    }

    private static GenerationOptions options(JsonNode node, String taskId) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw new BadLine(taskId, "'options' must be an object");
        }
        node.fieldNames().forEachRemaining(name -> {
            if (!OPTION_FIELDS.contains(name)) {
                throw new BadLine(taskId, "unknown option '" + name + "' (known: max_new_tokens, temperature, top_p, seed)");
            }
        });
        GenerationOptions.Builder b = GenerationOptions.newBuilder();
        if (node.hasNonNull("max_new_tokens")) {
            b.setMaxNewTokens(number(node, "max_new_tokens", taskId).intValue());
        }
        if (node.hasNonNull("temperature")) {
            b.setTemperature(number(node, "temperature", taskId).floatValue());
        }
        if (node.hasNonNull("top_p")) {
            b.setTopP(number(node, "top_p", taskId).floatValue());
        }
        if (node.hasNonNull("seed")) {
            b.setSeed(number(node, "seed", taskId).longValue());
        }
        return b.build();
    }

    private static Number number(JsonNode node, String field, String taskId) {
        JsonNode v = node.get(field);
        if (!v.isNumber()) {
            throw new BadLine(taskId, "option '" + field + "' must be a number");
        }
        return v.numberValue();
    }

    /** Why a line is not a task; carries the task id when the line named one. */
    private static final class BadLine extends RuntimeException {
        private final String taskId;

        BadLine(String taskId, String message) {
            super(message, null, false, false);
            this.taskId = taskId;
        }
    }
}
