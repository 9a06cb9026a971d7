package dev.mgmstream.ingest;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
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
 * still read. Blank lines are skipped. A task without {@code task_id} gets a random one. The first line that
 * names a {@code task_id} keeps it; a later line naming it again is not a task, and its result goes under
 * {@code line-N} (see {@link LineError#resultId}).
 */
public final class TaskFile {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("task_id", "image", "kind", "prompt", "attributes", "options");
    private static final Set<String> OPTION_FIELDS = Set.of("max_new_tokens", "temperature", "top_p", "seed");

    /**
     * A line that could not be read as a task.
     *
     * @param taskId   the task_id the line named, if it named one
     * @param resultId the id its result line is written under: its own task_id when no earlier line named that
     *                 id, otherwise {@code line-N}, made unique against every task_id in the file, so the result
     *                 file keeps exactly one line per id
     */
    public record LineError(int line, String taskId, String resultId, String message) {
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
        List<BadLine> bad = new ArrayList<>();
        List<Integer> badLines = new ArrayList<>();
        // The first line that names a task_id owns it, whether or not it is a valid task: a later line naming
        // it again would otherwise give the result file two lines under one id.
        Map<String, Integer> owner = new HashMap<>();
        int number = 0;
        while (lines.hasNext()) {
            String text = lines.next();
            number++;
            if (text.isBlank()) {
                continue;
            }
            try {
                TaskSpec task = parseLine(number, text);
                Integer first = owner.putIfAbsent(task.taskId(), number);
                if (first != null) {
                    throw new BadLine(task.taskId(), "task_id '" + task.taskId() + "' was already used on line "
                            + first, true);
                }
                tasks.add(task);
            } catch (BadLine e) {
                BadLine why = e;
                if (e.taskId != null && !e.duplicate) {
                    Integer first = owner.putIfAbsent(e.taskId, number);
                    if (first != null) {
                        why = new BadLine(e.taskId, e.getMessage() + "; and task_id '" + e.taskId
                                + "' was already used on line " + first, true);
                    }
                }
                bad.add(why);
                badLines.add(number);
            }
        }
        List<LineError> errors = new ArrayList<>(bad.size());
        Set<String> taken = new HashSet<>(owner.keySet());
        for (int i = 0; i < bad.size(); i++) {
            BadLine e = bad.get(i);
            int line = badLines.get(i);
            String resultId = e.taskId != null && !e.duplicate ? e.taskId : unusedId("line-" + line, taken);
            errors.add(new LineError(line, e.taskId, resultId, e.getMessage()));
        }
        return new Contents(folder, tasks, errors);
    }

    /** {@code base}, or {@code base-2}, {@code base-3}... when the file already uses it as a task_id. */
    private static String unusedId(String base, Set<String> taken) {
        String id = base;
        for (int k = 2; !taken.add(id); k++) {
            id = base + "-" + k;
        }
        return id;
    }

    /** A JSON syntax error in a user's words, without the parser's vocabulary (character codes, token names). */
    private static String plainly(JsonProcessingException e) {
        String original = String.valueOf(e.getOriginalMessage());
        String where = e.getLocation() == null || e.getLocation().getColumnNr() < 1 ? ""
                : " (column " + e.getLocation().getColumnNr() + ")";
        if (original.contains("end-of-input")) {
            return "the line ends before the object is closed" + where;
        }
        if (original.contains("expecting comma")) {
            return "a comma is missing between two fields" + where;
        }
        if (original.contains("expecting double-quote")) {
            return "field names must be in double quotes" + where;
        }
        if (original.contains("expecting a colon")) {
            return "a colon is missing after a field name" + where;
        }
        return "unexpected text" + where;
    }

    static TaskSpec parseLine(int number, String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new BadLine(null, "not valid JSON: " + plainly(e));
        }
        if (node == null || !node.isObject()) {
            throw new BadLine(null, "expected a JSON object {...}, found " + (node == null ? "nothing"
                    : node.getNodeType().name().toLowerCase(java.util.Locale.ROOT).replace("array", "an array")));
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
        private final boolean duplicate;

        BadLine(String taskId, String message) {
            this(taskId, message, false);
        }

        BadLine(String taskId, String message, boolean duplicate) {
            super(message, null, false, false);
            this.taskId = taskId;
            this.duplicate = duplicate;
        }
    }
}
