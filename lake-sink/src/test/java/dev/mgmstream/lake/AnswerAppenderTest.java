package dev.mgmstream.lake;

import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;

import org.apache.iceberg.Table;
import org.apache.iceberg.data.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** The conditional commit on a local Hadoop catalog, without Kafka. */
class AnswerAppenderTest {

    private static final String TOPIC = "mgm.answers";

    @TempDir
    Path warehouse;

    private LakeTable open() {
        return LakeTable.open(LakeSettings.from(Map.of("lake.warehouse", warehouse.toString())));
    }

    private static List<Record> rows(int partition, int from, int to, long timestamp) {
        return LakeFixtures.rows(TOPIC, partition, from, to, timestamp);
    }

    @Test
    @SuppressWarnings("unchecked")
    void commitsRowsWithTheirOffsetsAndReadsThemBack() {
        try (LakeTable lake = open()) {
            AnswerAppender appender = new AnswerAppender(lake.table(), TOPIC, "w1", 3);
            AnswerAppender.Outcome out = appender.append(new AnswerAppender.Batch(rows(0, 0, 50, 1_700_000_000_000L),
                    Map.of(0, AnswerAppender.NONE), Map.of(0, 50L)));

            assertThat(out.committed()).isTrue();
            assertThat(appender.tableOffsets()).containsExactlyEntriesOf(Map.of(0, 50L));
            List<Record> read = LakeFixtures.readAll(lake.table());
            assertThat(read).hasSize(50);
            Record r7 = read.stream().filter(r -> r.getField("task_id").equals("task-7")).findFirst().orElseThrow();
            assertThat(r7.getField("status")).isEqualTo("rejected");
            assertThat(r7.getField("reason")).isEqualTo("image could not be decoded");
            assertThat(r7.getField("kind")).isEqualTo("vqa");
            assertThat((Map<Object, Object>) r7.getField("attributes")).containsEntry("batch", "b3").containsEntry("n", "7");
            assertThat((Map<Object, Object>) r7.getField("latencies")).containsEntry("total", 22L);
            assertThat(r7.getField("kafka_offset")).isEqualTo(7L);
            assertThat(((OffsetDateTime) r7.getField("answered_at")).toInstant().toEpochMilli()).isEqualTo(1_700_000_000_000L);
        }
    }

    @Test
    void aWriterWhoseStartingOffsetsAreStaleWritesNothing() {
        try (LakeTable lake = open()) {
            AnswerAppender owner = new AnswerAppender(lake.table(), TOPIC, "owner", 3);
            AnswerAppender zombie = new AnswerAppender(lake.table(), TOPIC, "zombie", 3);
            assertThat(owner.append(new AnswerAppender.Batch(rows(0, 0, 10, 1L), Map.of(0, AnswerAppender.NONE),
                    Map.of(0, 10L))).committed()).isTrue();

            // The zombie read the same records before it lost the partition.
            AnswerAppender.Outcome late = zombie.append(new AnswerAppender.Batch(rows(0, 0, 10, 1L),
                    Map.of(0, AnswerAppender.NONE), Map.of(0, 10L)));

            assertThat(late.committed()).isFalse();
            assertThat(late.tableOffsets()).containsEntry(0, 10L);
            assertThat(LakeFixtures.readAll(lake.table())).hasSize(10);
        }
    }

    @Test
    void everyCommitCarriesTheOffsetsOfAllPartitions() {
        try (LakeTable lake = open()) {
            AnswerAppender a = new AnswerAppender(lake.table(), TOPIC, "a", 3);
            AnswerAppender b = new AnswerAppender(lake.table(), TOPIC, "b", 3);
            a.append(new AnswerAppender.Batch(rows(0, 0, 5, 1L), Map.of(0, AnswerAppender.NONE), Map.of(0, 5L)));
            b.append(new AnswerAppender.Batch(rows(1, 100, 104, 1L), Map.of(1, AnswerAppender.NONE), Map.of(1, 4L)));
            a.append(new AnswerAppender.Batch(rows(0, 5, 8, 1L), Map.of(0, 5L), Map.of(0, 8L)));

            Table table = lake.table();
            table.refresh();
            assertThat(table.currentSnapshot().summary())
                    .containsEntry(OffsetLedger.PREFIX + TOPIC + ":0", "8")
                    .containsEntry(OffsetLedger.PREFIX + TOPIC + ":1", "4");
            assertThat(LakeFixtures.readAll(table)).hasSize(12);
        }
    }

    @Test
    void writersRacingOnOtherPartitionsNeverLoseEachOthersOffsets() throws Exception {
        int commits = 12;
        int rowsPerCommit = 4;
        open().close(); // create the table once
        List<Thread> writers = new java.util.ArrayList<>();
        java.util.concurrent.ConcurrentLinkedQueue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (int partition = 0; partition < 3; partition++) {
            int p = partition;
            writers.add(new Thread(() -> {
                // Each writer has its own catalog and table object, as separate sink processes would.
                try (LakeTable lake = open()) {
                    AnswerAppender w = new AnswerAppender(lake.table(), TOPIC, "w" + p, 1000);
                    long offset = AnswerAppender.NONE;
                    for (int c = 0; c < commits; c++) {
                        long from = Math.max(offset, 0);
                        long to = from + rowsPerCommit;
                        AnswerAppender.Outcome out = w.append(new AnswerAppender.Batch(
                                rows(p, (int) from + 1000 * p, (int) to + 1000 * p, 1L), Map.of(p, offset), Map.of(p, to)));
                        assertThat(out.committed()).isTrue();
                        offset = to;
                    }
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        writers.forEach(Thread::start);
        for (Thread t : writers) {
            t.join();
        }
        assertThat(failures).isEmpty();
        try (LakeTable lake = open()) {
            long each = (long) commits * rowsPerCommit;
            assertThat(new AnswerAppender(lake.table(), TOPIC, "reader", 1).tableOffsets())
                    .containsExactlyInAnyOrderEntriesOf(Map.of(0, each, 1, each, 2, each));
            assertThat(LakeFixtures.readAll(lake.table())).hasSize(3 * commits * rowsPerCommit);
        }
    }

    @Test
    void offsetsOfATopicMadeAgainReplaceThoseOfTheOneBefore() {
        try (LakeTable lake = open()) {
            new AnswerAppender(lake.table(), TOPIC + "/first-id", "w", 3).append(new AnswerAppender.Batch(
                    rows(0, 0, 5, 1L), Map.of(0, AnswerAppender.NONE), Map.of(0, 5L)));
            new AnswerAppender(lake.table(), TOPIC + "/second-id", "w", 3).append(new AnswerAppender.Batch(
                    rows(0, 0, 3, 1L), Map.of(0, AnswerAppender.NONE), Map.of(0, 3L)));

            lake.table().refresh();
            assertThat(lake.table().properties()).containsEntry(OffsetLedger.PREFIX + TOPIC + "/second-id:0", "3")
                    .doesNotContainKey(OffsetLedger.PREFIX + TOPIC + "/first-id:0");
            assertThat(LakeFixtures.readAll(lake.table())).hasSize(8);
        }
    }

    @Test
    void rowsOfDifferentDaysGoToDifferentPartitions() {
        try (LakeTable lake = open()) {
            long day = 86_400_000L;
            List<Record> rows = new java.util.ArrayList<>(rows(0, 0, 3, 20_000 * day));
            rows.addAll(rows(0, 3, 6, 20_001 * day));
            new AnswerAppender(lake.table(), TOPIC, "w", 3)
                    .append(new AnswerAppender.Batch(rows, Map.of(0, AnswerAppender.NONE), Map.of(0, 6L)));
            lake.table().refresh();
            assertThat(lake.table().currentSnapshot().addedDataFiles(lake.table().io()))
                    .hasSize(2)
                    .allSatisfy(f -> assertThat(f.recordCount()).isEqualTo(3));
        }
    }

    @Test
    void reopeningTheTableKeepsRowsAndOffsets() {
        try (LakeTable lake = open()) {
            new AnswerAppender(lake.table(), TOPIC, "w", 3)
                    .append(new AnswerAppender.Batch(rows(2, 0, 7, 1L), Map.of(2, AnswerAppender.NONE), Map.of(2, 7L)));
        }
        try (LakeTable again = open()) {
            assertThat(new AnswerAppender(again.table(), TOPIC, "w", 3).tableOffsets()).containsEntry(2, 7L);
            assertThat(LakeFixtures.readAll(again.table())).hasSize(7);
            assertThat(again.table().spec().fields()).singleElement()
                    .satisfies(f -> assertThat(f.transform().toString()).isEqualTo("day"));
        }
    }
}
