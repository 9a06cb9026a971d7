package dev.mgmstream.schemas.topics;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The Kafka header that names the tasks a record carries, outside its value: a stage that cannot decode
 * the value (corrupt bytes, a schema it does not know) can still answer every one of those tasks, so no
 * task vanishes with an undecodable record. The value is a JSON array of strings, since a task id may hold
 * any character, commas included.
 */
public final class TaskIdsHeader {

    public static final String NAME = "mgm.task-ids";

    private static final ObjectMapper JSON = new ObjectMapper();

    private TaskIdsHeader() {
    }

    public static String encode(List<String> taskIds) {
        try {
            return JSON.writeValueAsString(taskIds);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The task ids a header value names; empty when it is missing or not such an array. */
    public static List<String> decode(String value) {
        if (value == null || value.isBlank()) {
            return List.of();
        }
        JsonNode node;
        try {
            node = JSON.readTree(value);
        } catch (JsonProcessingException e) {
            return List.of();
        }
        if (node == null || !node.isArray()) {
            return List.of();
        }
        List<String> ids = new ArrayList<>(node.size());
        for (JsonNode n : node) {
            if (n.isTextual() && !n.asText().isEmpty() && !ids.contains(n.asText())) {
                ids.add(n.asText());
            }
        }
        return List.copyOf(ids);
    }
}
