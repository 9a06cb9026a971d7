package dev.mgmstream.views;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.schemas.avro.TaskStatus;

/**
 * The tasks that changed after a point, oldest change first: what the results browser polls ({@code GET
 * /feed}). A task's {@code updated_at} only moves forward, so (updated_at, task_id) orders every change and
 * a page ends at a cursor the next page starts after, even where many tasks share one millisecond.
 *
 * <p>The task-status store is keyed by task id, not by time, so a page is a walk over the store that keeps
 * the {@code limit} oldest matches in a heap: memory bounded by the page, time by the store, which is what
 * a results browser over one run affords. A change merged in with an older timestamp than the task already
 * had (topics arrive in no fixed order) keeps the later {@code updated_at}; the page polls with some
 * overlap for that reason.
 */
final class TaskFeed {

    static final int MAX_LIMIT = 1000;

    /** Changes strictly after ({@code since} epoch ms, {@code after} task id); {@code after} "" takes all of {@code since}. */
    record Cursor(long since, String after) {
        Cursor {
            after = after == null ? "" : after;
        }

        boolean precedes(long updatedMs, String taskId) {
            return updatedMs > since || (updatedMs == since && taskId.compareTo(after) > 0);
        }
    }

    /** One page: the changes in order, and whether more came after the last one. */
    record Page(List<ObjectNode> tasks, boolean more) {
    }

    private static final Comparator<ObjectNode> ORDER = Comparator.<ObjectNode>comparingLong(
            n -> n.path("updated_ms").asLong()).thenComparing(n -> n.path("task_id").asText());

    private TaskFeed() {
    }

    /** The first {@code limit} changes after {@code from} among {@code all}. */
    static Page page(Iterator<TaskStatus> all, Cursor from, int limit) {
        Comparator<TaskStatus> order = Comparator.<TaskStatus>comparingLong(s -> s.getUpdatedAt().toEpochMilli())
                .thenComparing(TaskStatus::getTaskId);
        // the newest of those kept on top, to be dropped when an older one comes
        PriorityQueue<TaskStatus> kept = new PriorityQueue<>(order.reversed());
        boolean more = false;
        while (all.hasNext()) {
            TaskStatus s = all.next();
            if (s == null || !from.precedes(s.getUpdatedAt().toEpochMilli(), s.getTaskId())) {
                continue;
            }
            kept.add(s);
            if (kept.size() > limit) {
                kept.poll();
                more = true;
            }
        }
        List<TaskStatus> sorted = new ArrayList<>(kept);
        sorted.sort(order);
        return new Page(sorted.stream().map(TaskFeed::item).toList(), more);
    }

    /** Pages from several instances (each of the same cursor and limit) as one page of at most {@code limit}. */
    static Page merge(List<Page> pages, int limit) {
        List<ObjectNode> all = new ArrayList<>();
        boolean more = false;
        for (Page p : pages) {
            all.addAll(p.tasks());
            more |= p.more();
        }
        all.sort(ORDER);
        if (all.size() > limit) {
            return new Page(List.copyOf(all.subList(0, limit)), true);
        }
        return new Page(all, more);
    }

    /** A task as the feed shows it: its status, plus its change time and its latency (published to outcome) in ms. */
    static ObjectNode item(TaskStatus s) {
        ObjectNode n = ViewsJson.task(s);
        n.put("updated_ms", s.getUpdatedAt().toEpochMilli());
        Long published = s.getTimes().get(TaskEvents.PUBLISHED);
        Long answered = s.getTimes().get(TaskEvents.ANSWERED);
        if (published != null && answered != null) {
            n.put("answered_ms", answered);
            n.put("latency_ms", Math.max(0, answered - published));
        }
        return n;
    }

    static ObjectNode json(Page page, Cursor from) {
        ObjectNode out = ViewsJson.JSON.createObjectNode();
        ArrayNode tasks = out.putArray("tasks");
        page.tasks().forEach(tasks::add);
        ObjectNode last = page.tasks().isEmpty() ? null : page.tasks().get(page.tasks().size() - 1);
        // where the next page starts: after the last change shown, or where this one started
        out.put("since", last == null ? from.since() : last.path("updated_ms").asLong());
        out.put("after", last == null ? from.after() : last.path("task_id").asText());
        out.put("more", page.more());
        return out;
    }

    /** A page as another instance sent it. */
    static Page read(JsonNode body) {
        List<ObjectNode> tasks = new ArrayList<>();
        body.path("tasks").forEach(t -> {
            if (t instanceof ObjectNode o) {
                tasks.add(o);
            }
        });
        return new Page(tasks, body.path("more").asBoolean());
    }
}
