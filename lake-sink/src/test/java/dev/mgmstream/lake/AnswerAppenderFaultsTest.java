package dev.mgmstream.lake;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.iceberg.DataFile;
import org.apache.iceberg.FileFormat;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.PartitionKey;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Schema;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableProperties;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.data.GenericAppenderFactory;
import org.apache.iceberg.data.InternalRecordWrapper;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.encryption.EncryptedFiles;
import org.apache.iceberg.exceptions.CommitFailedException;
import org.apache.iceberg.exceptions.CommitStateUnknownException;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.io.DataWriter;
import org.apache.iceberg.io.OutputFile;
import org.apache.iceberg.types.Types;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The conditional commit when something goes wrong around it: a commit whose outcome is unknown,
 * maintenance by other tools, a schema another writer changed, commits and writes that fail. Each
 * fault is injected at Iceberg's own interfaces around a real local table.
 */
class AnswerAppenderFaultsTest {

    private static final String TOPIC = "mgm.answers";

    @TempDir
    Path warehouse;

    private LakeSettings settings() {
        return LakeSettings.from(Map.of("lake.warehouse", warehouse.toString()));
    }

    private LakeTable open() {
        return LakeTable.open(settings());
    }

    private static AnswerAppender.Batch batch(int partition, int from, int to) {
        return batch(partition, from, to, 1L);
    }

    private static AnswerAppender.Batch batch(int partition, int from, int to, long timestamp) {
        return new AnswerAppender.Batch(LakeFixtures.rows(TOPIC, partition, from, to, timestamp),
                Map.of(partition, from == 0 ? AnswerAppender.NONE : (long) from), Map.of(partition, (long) to));
    }

    /** Five answers of another partition, numbered apart from the first one's. */
    private static AnswerAppender.Batch partitionOne() {
        return new AnswerAppender.Batch(LakeFixtures.rows(TOPIC, 1, 100, 105, 1L), Map.of(1, AnswerAppender.NONE),
                Map.of(1, 105L));
    }

    private static Map<String, Long> perTask(Table table) {
        return LakeFixtures.readAll(table).stream()
                .collect(Collectors.groupingBy(r -> (String) r.getField("task_id"), Collectors.counting()));
    }

    @Test
    void aCommitOfUnknownOutcomeThatLandedIsKeptThoughAnotherWriterCommittedOnTop() {
        try (LakeTable lake = open(); LakeTable other = open()) {
            AtomicBoolean faulted = new AtomicBoolean();
            Table flaky = FaultyOperations.committingThrough(lake.table(), (real, base, metadata) -> {
                real.commit(base, metadata);
                if (faulted.compareAndSet(false, true)) {
                    // The reply is lost, and before the sink looks, another sink commits its partition.
                    new AnswerAppender(other.table(), TOPIC, "other", 3).append(partitionOne());
                    throw new CommitStateUnknownException(new IOException("connection reset after the commit"));
                }
            });

            AnswerAppender.Outcome out = new AnswerAppender(flaky, TOPIC, "w", 3).append(batch(0, 0, 20));

            assertThat(out.committed()).isTrue();
            Map<String, Long> rows = perTask(lake.table());
            assertThat(rows).hasSize(25).containsKeys("task-0", "task-19", "task-100", "task-104");
            assertThat(rows.values()).allMatch(n -> n == 1);
            assertThat(new AnswerAppender(lake.table(), TOPIC, "reader", 1).tableOffsets())
                    .containsExactlyInAnyOrderEntriesOf(Map.of(0, 20L, 1, 105L));
        }
    }

    @Test
    void aCommitOfUnknownOutcomeThatDidNotLandIsMadeAgainOnce() {
        try (LakeTable lake = open()) {
            AtomicBoolean faulted = new AtomicBoolean();
            Table flaky = FaultyOperations.committingThrough(lake.table(), (real, base, metadata) -> {
                if (faulted.compareAndSet(false, true)) {
                    throw new CommitStateUnknownException(new IOException("timed out before the commit was sent"));
                }
                real.commit(base, metadata);
            });

            assertThat(new AnswerAppender(flaky, TOPIC, "w", 3).append(batch(0, 0, 20)).committed()).isTrue();

            assertThat(perTask(lake.table())).hasSize(20).allSatisfy((task, n) -> assertThat(n).isEqualTo(1));
            assertThat(LakeFixtures.parquetFilesOutside(lake.table())).isEmpty();
        }
    }

    @Test
    void offsetsOutliveCompactionAndExpiredSnapshots() throws IOException {
        try (LakeTable lake = open()) {
            AnswerAppender sink = new AnswerAppender(lake.table(), TOPIC, "w", 3);
            sink.append(batch(0, 0, 10));
            sink.append(partitionOne());
            sink.append(batch(0, 10, 20));

            Table table = lake.table();
            compact(table);
            table.expireSnapshots().expireOlderThan(Long.MAX_VALUE).retainLast(1).commit();
            table.refresh();
            assertThat(table.snapshots()).singleElement()
                    .satisfies(s -> assertThat(s.operation()).isEqualTo("replace"));

            assertThat(sink.tableOffsets()).containsExactlyInAnyOrderEntriesOf(Map.of(0, 20L, 1, 105L));
            assertThat(sink.append(batch(0, 0, 10)).committed()).as("answers the table has already").isFalse();
            assertThat(sink.append(batch(0, 20, 30)).committed()).isTrue();
            assertThat(perTask(table)).hasSize(35).allSatisfy((task, n) -> assertThat(n).isEqualTo(1));
        }
    }

    /** What a maintenance job's compaction does: every live file rewritten into one (all rows are of one day here). */
    private static void compact(Table table) throws IOException {
        List<Record> all = LakeFixtures.readAll(table);
        Set<DataFile> old = new HashSet<>();
        try (CloseableIterable<FileScanTask> tasks = table.newScan().planFiles()) {
            tasks.forEach(t -> old.add(t.file()));
        }
        PartitionKey key = new PartitionKey(table.spec(), table.schema());
        key.partition(new InternalRecordWrapper(table.schema().asStruct()).wrap(all.get(0)));
        OutputFile out = table.io().newOutputFile(table.locationProvider().newDataLocation(table.spec(), key,
                "compacted.parquet"));
        DataWriter<Record> writer = new GenericAppenderFactory(table.schema(), table.spec())
                .newDataWriter(EncryptedFiles.plainAsEncryptedOutput(out), FileFormat.PARQUET, key);
        try (writer) {
            all.forEach(writer::write);
        }
        table.newRewrite().rewriteFiles(old, Set.of(writer.toDataFile())).commit();
    }

    @Test
    void rowsGoIntoTheColumnsOfTheSchemaAnotherWriterChanged() {
        try (LakeTable lake = open(); LakeTable other = open()) {
            AnswerAppender sink = new AnswerAppender(lake.table(), TOPIC, "w", 3);
            sink.append(batch(0, 0, 10));

            other.table().refresh();
            other.table().updateSchema()
                    .addColumn("reviewed_by", Types.StringType.get())
                    .moveFirst("reviewed_by")
                    .moveAfter("status", "kafka_offset")
                    .updateColumn("prompt_tokens", Types.LongType.get())
                    .commit();
            assertThat(sink.append(batch(0, 10, 20)).committed()).isTrue();

            List<Record> rows = LakeFixtures.readAll(lake.table());
            assertThat(rows).hasSize(20).allSatisfy(r -> {
                long offset = (Long) r.getField("kafka_offset");
                assertThat(r.getField("task_id")).isEqualTo("task-" + offset);
                assertThat(r.getField("status")).isEqualTo(offset % 10 == 7 ? "rejected" : "ok");
                assertThat(r.getField("prompt_tokens")).isEqualTo(offset % 10 == 7 ? 0L : 40L);
                assertThat(r.getField("image")).isEqualTo("file:/images/" + offset + ".png");
                assertThat(r.getField("reviewed_by")).isNull();
            });
        }
    }

    @Test
    void aTableAnOlderSinkMadeGetsTheNewColumnsWhenOpened() {
        Schema older = new Schema(AnswerTable.SCHEMA.columns().stream()
                .filter(c -> !c.name().equals("image") && !c.name().equals("trace_id"))
                .toList());
        Catalog catalog = LakeTable.catalog(settings());
        catalog.buildTable(settings().table(), older)
                .withPartitionSpec(PartitionSpec.builderFor(older).day("answered_at").build())
                .withProperty(TableProperties.FORMAT_VERSION, "2")
                .create();

        try (LakeTable lake = open()) {
            assertThat(lake.table().schema().findField("image")).isNotNull();
            new AnswerAppender(lake.table(), TOPIC, "w", 3).append(batch(0, 0, 10));

            assertThat(LakeFixtures.readAll(lake.table())).hasSize(10).allSatisfy(r -> {
                long offset = (Long) r.getField("kafka_offset");
                assertThat(r.getField("task_id")).isEqualTo("task-" + offset);
                assertThat(r.getField("image")).isEqualTo("file:/images/" + offset + ".png");
            });
        }
    }

    @Test
    void aCommitThatFailsLeavesNoDataFilesBehind() throws IOException {
        try (LakeTable lake = open()) {
            Table outraced = FaultyOperations.committingThrough(lake.table(), (real, base, metadata) -> {
                throw new CommitFailedException("another writer won again");
            });
            assertThatThrownBy(() -> new AnswerAppender(outraced, TOPIC, "w", 2).append(batch(0, 0, 10)))
                    .isInstanceOf(CommitFailedException.class);

            Table broken = FaultyOperations.committingThrough(lake.table(), (real, base, metadata) -> {
                throw new UncheckedIOException(new IOException("no space left on device"));
            });
            assertThatThrownBy(() -> new AnswerAppender(broken, TOPIC, "w", 2).append(batch(0, 0, 10)))
                    .isInstanceOf(UncheckedIOException.class);

            assertThat(LakeFixtures.parquetFilesOutside(lake.table())).isEmpty();
            try (Stream<Path> metadata = Files.list(LakeFixtures.local(lake.table().location()).resolve("metadata"))) {
                assertThat(metadata.map(f -> f.getFileName().toString())).as("manifests of the failed attempts")
                        .noneMatch(name -> name.endsWith(".avro"));
            }
        }
    }

    @Test
    void aDataFileThatCannotBeWrittenTakesTheBatchsOtherFilesWithIt() {
        try (LakeTable lake = open()) {
            Table diskFull = FaultyOperations.writingThrough(lake.table(), (n, location) -> {
                if (n == 2) {
                    throw new UncheckedIOException(new IOException("no space left on device: " + location));
                }
            });
            long day = 86_400_000L;
            List<Record> twoDays = new ArrayList<>(LakeFixtures.rows(TOPIC, 0, 0, 5, 20_000 * day));
            twoDays.addAll(LakeFixtures.rows(TOPIC, 0, 5, 10, 20_001 * day));

            assertThatThrownBy(() -> new AnswerAppender(diskFull, TOPIC, "w", 2).append(new AnswerAppender.Batch(
                    twoDays, Map.of(0, AnswerAppender.NONE), Map.of(0, 10L))))
                    .isInstanceOf(UncheckedIOException.class);

            assertThat(LakeFixtures.parquetFilesOutside(lake.table())).isEmpty();
        }
    }
}
