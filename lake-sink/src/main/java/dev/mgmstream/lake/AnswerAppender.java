package dev.mgmstream.lake;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

import org.apache.iceberg.AppendFiles;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.HasTableOperations;
import org.apache.iceberg.PartitionKey;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.SnapshotRef;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableMetadata;
import org.apache.iceberg.TableOperations;
import org.apache.iceberg.data.InternalRecordWrapper;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.data.parquet.GenericParquetWriter;
import org.apache.iceberg.exceptions.CommitFailedException;
import org.apache.iceberg.exceptions.CommitStateUnknownException;
import org.apache.iceberg.io.DataWriter;
import org.apache.iceberg.io.OutputFile;
import org.apache.iceberg.parquet.Parquet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends rows read from one topic to the table together with the offsets they advance to, as one
 * Iceberg commit, on one condition: the table's offsets for the batch's partitions are still those
 * the batch started from. A writer that lost its partitions to another (after a rebalance, or as a
 * zombie that came back) finds different offsets there and writes nothing.
 */
final class AnswerAppender {

    private static final Logger log = LoggerFactory.getLogger(AnswerAppender.class);
    static final String WRITER_KEY = "mgm.sink.writer";

    /** Offsets in the table for a partition no writer has committed yet. */
    static final long NONE = -1L;

    private final Table table;
    private final String topic;
    private final String writerId;
    private final int attempts;

    AnswerAppender(Table table, String topic, String writerId, int attempts) {
        this.table = table;
        this.topic = topic;
        this.writerId = writerId;
        this.attempts = attempts;
    }

    /**
     * Rows to append, and per partition the offset the table must hold now ({@link #NONE} for none)
     * and the one it will hold after.
     */
    record Batch(List<Record> rows, Map<Integer, Long> expected, Map<Integer, Long> next) {
        Batch {
            rows = List.copyOf(rows);
            expected = Map.copyOf(expected);
            next = Map.copyOf(next);
            if (!expected.keySet().equals(next.keySet())) {
                throw new IllegalArgumentException("expected and next offsets name different partitions");
            }
        }
    }

    /** What became of a batch. {@code tableOffsets} is what the table holds afterwards. */
    record Outcome(boolean committed, Map<Integer, Long> tableOffsets) {
    }

    /** The table's offsets now (refreshing it first). */
    Map<Integer, Long> tableOffsets() {
        return OffsetLedger.read(operations().refresh(), topic);
    }

    private TableOperations operations() {
        return ((HasTableOperations) table).operations();
    }

    /**
     * Iceberg's own commit path re-reads the table and replays an append onto whatever is newest, which
     * would keep offsets checked against an older snapshot. So the snapshot is only produced through
     * Iceberg ({@code apply()}), and committed here against the exact metadata that was checked:
     * {@code TableOperations.commit(base, ...)} fails if anything was committed since {@code base}
     * (a Hadoop catalog compares versions; a REST catalog asserts the branch's snapshot id).
     */
    Outcome append(Batch batch) {
        List<DataFile> files = null;
        TableOperations ops = operations();
        for (int attempt = 1; ; attempt++) {
            TableMetadata base = ops.refresh();
            Map<Integer, Long> current = OffsetLedger.read(base, topic);
            if (!startsWhereTableIs(batch, current)) {
                if (files != null) {
                    files.forEach(f -> table.io().deleteFile(f.location()));
                }
                return new Outcome(false, current);
            }
            if (files == null) {
                files = writeFiles(batch.rows());
            }
            AppendFiles append = table.newFastAppend();
            files.forEach(append::appendFile);
            OffsetLedger.write(append, topic, OffsetLedger.merge(current, batch.next()));
            append.set(WRITER_KEY, writerId);
            Snapshot snapshot = append.apply();
            Long parent = base.currentSnapshot() == null ? null : base.currentSnapshot().snapshotId();
            try {
                if (!Objects.equals(snapshot.parentId(), parent)) {
                    throw new CommitFailedException("table moved on while the snapshot was made");
                }
                ops.commit(base, TableMetadata.buildFrom(base).setBranchSnapshot(snapshot, SnapshotRef.MAIN_BRANCH).build());
                table.refresh();
                return new Outcome(true, OffsetLedger.merge(current, batch.next()));
            } catch (CommitFailedException raced) {
                if (attempt >= attempts) {
                    throw raced;
                }
                log.debug("Lake commit raced another writer (attempt {}), checking offsets again", attempt);
            } catch (CommitStateUnknownException unknown) {
                // The metadata swap may or may not have happened: the table's offsets tell which.
                Map<Integer, Long> after = tableOffsets();
                if (endsWhereTableIs(batch, after) && writerId.equals(ops.current().currentSnapshot().summary().get(WRITER_KEY))) {
                    return new Outcome(true, after);
                }
                if (attempt >= attempts) {
                    throw unknown;
                }
            }
        }
    }

    private static boolean startsWhereTableIs(Batch batch, Map<Integer, Long> table) {
        return batch.expected().entrySet().stream()
                .allMatch(e -> Objects.equals(table.getOrDefault(e.getKey(), NONE), e.getValue()));
    }

    private static boolean endsWhereTableIs(Batch batch, Map<Integer, Long> table) {
        return batch.next().entrySet().stream()
                .allMatch(e -> Objects.equals(table.getOrDefault(e.getKey(), NONE), e.getValue()));
    }

    /** One Parquet file per day partition. */
    private List<DataFile> writeFiles(List<Record> rows) {
        InternalRecordWrapper wrapper = new InternalRecordWrapper(table.schema().asStruct());
        Map<PartitionKey, List<Record>> byPartition = new LinkedHashMap<>();
        for (Record row : rows) {
            PartitionKey key = new PartitionKey(table.spec(), table.schema());
            key.partition(wrapper.wrap(row));
            byPartition.computeIfAbsent(key, k -> new ArrayList<>()).add(row);
        }
        List<DataFile> files = new ArrayList<>();
        byPartition.forEach((key, part) -> files.add(writeFile(key, part)));
        return files;
    }

    private DataFile writeFile(PartitionKey key, List<Record> rows) {
        String name = writerId + "-" + UUID.randomUUID() + ".parquet";
        OutputFile out = table.io().newOutputFile(table.locationProvider().newDataLocation(table.spec(), key, name));
        try {
            DataWriter<Record> writer = Parquet.writeData(out)
                    .forTable(table)
                    .withSpec(table.spec())
                    .withPartition(key)
                    .createWriterFunc(GenericParquetWriter::create)
                    .overwrite()
                    .build();
            try (writer) {
                rows.forEach(writer::write);
            }
            return writer.toDataFile();
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write " + out.location(), e);
        }
    }
}
