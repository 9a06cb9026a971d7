package dev.mgmstream.views;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.ImageReport;
import dev.mgmstream.schemas.avro.TaskStatus;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;

/**
 * The views as JSON: the records' own field names, times as ISO-8601, enum symbols in lower case (as the
 * result lines of {@code mgm run} write them), fields without a value left out.
 */
final class ViewsJson {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ViewsJson() {
    }

    static ObjectNode task(TaskStatus status) {
        ObjectNode node = record(status);
        // epoch milliseconds in the record (a map of longs), instants for whoever reads the answer
        ObjectNode times = NODES.objectNode();
        status.getTimes().entrySet().stream().sorted(Map.Entry.comparingByValue())
                .forEach(e -> times.put(e.getKey(), Instant.ofEpochMilli(e.getValue()).toString()));
        node.set("times", times);
        return node;
    }

    /** An image: its latest caption and its report, either of which may be missing. */
    static ObjectNode image(String imageId, ImageReport report, Caption caption) {
        ObjectNode node = NODES.objectNode();
        node.put("image_id", imageId);
        if (caption != null) {
            ObjectNode c = record(caption);
            c.remove("image_id");
            node.set("caption", c);
        }
        if (report != null) {
            ArrayNode answers = node.putArray("answers");
            report.getAnswers().forEach(a -> {
                ObjectNode n = record(a);
                n.remove("image_id");
                answers.add(n);
            });
            node.put("answer_count", report.getAnswerCount());
            node.put("updated_at", report.getUpdatedAt().toString());
        }
        return node;
    }

    static ObjectNode error(String message) {
        return NODES.objectNode().put("error", message);
    }

    static ObjectNode record(SpecificRecord r) {
        ObjectNode node = NODES.objectNode();
        for (Schema.Field f : r.getSchema().getFields()) {
            JsonNode v = value(r.get(f.pos()));
            if (v != null) {
                node.set(f.name(), v);
            }
        }
        return node;
    }

    private static JsonNode value(Object v) {
        if (v == null) {
            return null;
        }
        if (v instanceof SpecificRecord r) {
            return record(r);
        }
        if (v instanceof Enum<?> e) {
            return NODES.textNode(e.name().toLowerCase(Locale.ROOT));
        }
        if (v instanceof Instant i) {
            return NODES.textNode(i.toString());
        }
        if (v instanceof CharSequence s) {
            return NODES.textNode(s.toString());
        }
        if (v instanceof Long l) {
            return NODES.numberNode(l);
        }
        if (v instanceof Integer i) {
            return NODES.numberNode(i);
        }
        if (v instanceof Number n) {
            return NODES.numberNode(n.doubleValue());
        }
        if (v instanceof Boolean b) {
            return NODES.booleanNode(b);
        }
        if (v instanceof ByteBuffer b) {
            return NODES.numberNode(b.remaining()); // never shown whole: its size says enough
        }
        if (v instanceof Map<?, ?> m) {
            ObjectNode o = NODES.objectNode();
            m.forEach((k, x) -> {
                JsonNode j = value(x);
                if (j != null) {
                    o.set(k.toString(), j);
                }
            });
            return o;
        }
        if (v instanceof List<?> l) {
            ArrayNode a = NODES.arrayNode();
            l.forEach(x -> a.add(value(x)));
            return a;
        }
        return NODES.textNode(v.toString());
    }
}
