package dev.mgmstream.views;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.schemas.avro.TaskState;
import dev.mgmstream.schemas.avro.TaskStatus;
import org.junit.jupiter.api.Test;

/** The feed's pages: every change exactly once, in order, however the store walks and wherever ties fall. */
class TaskFeedTest {

    private static TaskStatus status(String id, long updated) {
        return TaskStatus.newBuilder().setTaskId(id).setState(TaskState.ANSWERED)
                .setTimes(Map.of(TaskEvents.PUBLISHED, updated - 40, TaskEvents.ANSWERED, updated))
                .setUpdatedAt(Instant.ofEpochMilli(updated)).build();
    }

    private static List<String> ids(List<ObjectNode> page) {
        return page.stream().map(n -> n.get("task_id").asText()).toList();
    }

    @Test
    void pagesWalkEveryChangeOnceInOrderEvenWhenManyShareAMillisecond() {
        List<TaskStatus> store = new ArrayList<>();
        for (int i = 0; i < 57; i++) {
            store.add(status("t" + String.format("%02d", i), 1000 + i / 10)); // ten tasks per millisecond
        }
        Collections.shuffle(store, new Random(3)); // a store walks in key-hash order, not time
        List<String> walked = new ArrayList<>();
        TaskFeed.Cursor cursor = new TaskFeed.Cursor(0, "");
        for (int pages = 0; pages < 20; pages++) {
            TaskFeed.Page page = TaskFeed.page(store.iterator(), cursor, 7);
            walked.addAll(ids(page.tasks()));
            ObjectNode json = TaskFeed.json(page, cursor);
            cursor = new TaskFeed.Cursor(json.get("since").asLong(), json.get("after").asText());
            if (!page.more()) {
                break;
            }
        }
        assertThat(walked).hasSize(57).isSorted().doesNotHaveDuplicates();
    }

    @Test
    void anItemCarriesItsChangeTimeAndItsLatency() {
        ObjectNode item = TaskFeed.item(status("t1", 5000));
        assertThat(item.get("updated_ms").asLong()).isEqualTo(5000);
        assertThat(item.get("answered_ms").asLong()).isEqualTo(5000);
        assertThat(item.get("latency_ms").asLong()).isEqualTo(40);
        assertThat(item.get("state").asText()).isEqualTo("answered");
    }

    @Test
    void pagesOfSeveralInstancesMergeIntoOneOrderedPageOfTheLimit() {
        TaskFeed.Cursor start = new TaskFeed.Cursor(0, "");
        TaskFeed.Page a = TaskFeed.page(List.of(status("a1", 10), status("a2", 30)).iterator(), start, 2);
        TaskFeed.Page b = TaskFeed.page(List.of(status("b1", 20), status("b2", 40), status("b3", 50)).iterator(), start, 2);
        assertThat(b.more()).isTrue();
        TaskFeed.Page merged = TaskFeed.merge(List.of(a, b), 2);
        assertThat(ids(merged.tasks())).containsExactly("a1", "b1");
        assertThat(merged.more()).isTrue();
        // served as JSON by the other instance and read back, a page is the same page
        TaskFeed.Page read = TaskFeed.read(TaskFeed.json(b, start));
        assertThat(ids(read.tasks())).containsExactly("b1", "b2");
        assertThat(read.more()).isTrue();
    }
}
