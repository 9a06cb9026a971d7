package dev.mgmstream.lake;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

import org.apache.iceberg.AppendFiles;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.HasTableOperations;
import org.apache.iceberg.ManifestFile;
import org.apache.iceberg.PartitionKey;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Schema;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.SnapshotRef;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableMetadata;
import org.apache.iceberg.TableOperations;
import org.apache.iceberg.data.GenericRecord;
import org.apache.iceberg.data.InternalRecordWrapper;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.data.parquet.GenericParquetWriter;
import org.apache.iceberg.exceptions.CommitFailedException;
import org.apache.iceberg.exceptions.CommitStateUnknownException;
import org.apache.iceberg.io.DataWriter;
import org.apache.iceberg.io.OutputFile;
import org.apache.iceberg.parquet.Parquet;
import org.apache.iceberg.types.Type;
import org.apache.iceberg.types.Types;
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
     * (a Hadoop catalog compares versions; a REST catalog asserts the branch's snapshot id). The same
     * metadata swap sets the offsets in the table's properties (see {@link OffsetLedger}).
     *
     * <p>The data files are deleted again whenever the batch is known not to be in the table (it lost
     * to another writer, the commit failed, a file could not be written), so that a reader of the raw
     * Parquet files sees no rows the table does not have. They are kept when a commit may have landed.
     * The manifests of attempts that did not land go too.
     */
    Outcome append(Batch batch) {
        List<DataFile> files = new ArrayList<>();
        // Snapshots whose commit ended in an unknown state, with the snapshot each was made on.
        Map<Long, Long> unknown = new LinkedHashMap<>();
        // Every snapshot made, and the one that is in the table.
        List<Snapshot> made = new ArrayList<>();
        Snapshot landed = null;
        TableMetadata seen = null;
        boolean committed = false;
        TableOperations ops = operations();
        try {
            for (int attempt = 1; ; attempt++) {
                TableMetadata base = ops.refresh();
                seen = base;
                landed = landed(base, unknown, made);
                if (landed != null) {
                    committed = true;
                    return new Outcome(true, OffsetLedger.read(base, topic));
                }
                Map<Integer, Long> current = OffsetLedger.read(base, topic);
                if (!startsWhereTableIs(batch, current)) {
                    return new Outcome(false, current);
                }
                if (files.isEmpty()) {
                    writeFiles(batch.rows(), files);
                }
                Map<Integer, Long> after = OffsetLedger.merge(current, batch.next());
                AppendFiles append = table.newFastAppend();
                files.forEach(append::appendFile);
                OffsetLedger.write(append, topic, after);
                append.set(WRITER_KEY, writerId);
                Snapshot snapshot = append.apply();
                made.add(snapshot);
                Long parent = snapshotId(base);
                try {
                    if (!Objects.equals(snapshot.parentId(), parent)) {
                        throw new CommitFailedException("table moved on while the snapshot was made");
                    }
                    TableMetadata.Builder update = TableMetadata.buildFrom(base)
                            .setBranchSnapshot(snapshot, SnapshotRef.MAIN_BRANCH)
                            .setProperties(OffsetLedger.entries(topic, after));
                    Set<String> superseded = OffsetLedger.superseded(base.properties(), topic);
                    if (!superseded.isEmpty()) {
                        update.removeProperties(superseded);
                    }
                    ops.commit(base, update.build());
                    committed = true;
                    landed = snapshot;
                    table.refresh();
                    return new Outcome(true, after);
                } catch (CommitFailedException raced) {
                    if (attempt >= attempts) {
                        throw raced;
                    }
                    log.debug("Lake commit raced another writer (attempt {}), checking offsets again", attempt);
                } catch (CommitStateUnknownException e) {
                    // Whether it landed shows in the table's snapshots; not in the newest one's writer or in
                    // the offsets, which another writer's commit on top of it carries too.
                    unknown.put(snapshot.snapshotId(), parent);
                    if (attempt >= attempts) {
                        seen = ops.refresh();
                        landed = landed(seen, unknown, made);
                        if (landed != null) {
                            committed = true;
                            return new Outcome(true, OffsetLedger.read(seen, topic));
                        }
                        throw e;
                    }
                    log.warn("Lake commit state unknown (attempt {}), checking the table", attempt, e);
                }
            }
        } finally {
            if (!committed && !mayStillLand(seen, unknown)) {
                delete(files);
            }
            for (Snapshot s : made) {
                if (s != landed && !unknown.containsKey(s.snapshotId())) {
                    discard(s);
                }
            }
        }
    }

    private static Long snapshotId(TableMetadata metadata) {
        return metadata.currentSnapshot() == null ? null : metadata.currentSnapshot().snapshotId();
    }

    /** The snapshot among those whose commit state was unknown that is in the table, if one is. */
    private static Snapshot landed(TableMetadata metadata, Map<Long, Long> unknown, List<Snapshot> made) {
        return made.stream()
                .filter(s -> unknown.containsKey(s.snapshotId()) && metadata.snapshot(s.snapshotId()) != null)
                .findFirst().orElse(null);
    }

    /** The manifest list and new manifests of a snapshot that is in no table version. */
    private void discard(Snapshot snapshot) {
        try {
            for (ManifestFile m : snapshot.allManifests(table.io())) {
                if (Objects.equals(m.snapshotId(), snapshot.snapshotId())) {
                    table.io().deleteFile(m.path());
                }
            }
            table.io().deleteFile(snapshot.manifestListLocation());
        } catch (RuntimeException e) {
            log.warn("Could not delete the manifests of snapshot {}, which is in no table version",
                    snapshot.snapshotId(), e);
        }
    }

    /**
     * A commit whose outcome is unknown can still land while the table stands where it was made (a
     * catalog server may not have finished it); once the table has moved on without it, it never will.
     */
    private static boolean mayStillLand(TableMetadata seen, Map<Long, Long> unknown) {
        if (unknown.isEmpty()) {
            return false;
        }
        return seen == null || unknown.containsValue(snapshotId(seen))
                || unknown.keySet().stream().anyMatch(id -> seen.snapshot(id) != null);
    }

    private void delete(List<DataFile> files) {
        for (DataFile f : files) {
            try {
                table.io().deleteFile(f.location());
            } catch (RuntimeException e) {
                log.warn("Could not delete {}, which is in no snapshot", f.location(), e);
            }
        }
    }

    private static boolean startsWhereTableIs(Batch batch, Map<Integer, Long> table) {
        return batch.expected().entrySet().stream()
                .allMatch(e -> Objects.equals(table.getOrDefault(e.getKey(), NONE), e.getValue()));
    }

    /**
     * One Parquet file per day partition, added to {@code files} as each is written, so that the caller
     * can delete them if a later one fails. Rows are laid out by column name in the table's schema as it
     * is now, which another writer may have changed (a column added, moved or widened) since the sink
     * built them.
     */
    private void writeFiles(List<Record> rows, List<DataFile> files) {
        Schema schema = table.schema();
        PartitionSpec spec = table.spec();
        InternalRecordWrapper wrapper = new InternalRecordWrapper(schema.asStruct());
        Map<PartitionKey, List<Record>> byPartition = new LinkedHashMap<>();
        for (Record row : rows) {
            Record conformed = conform(row, schema);
            PartitionKey key = new PartitionKey(spec, schema);
            key.partition(wrapper.wrap(conformed));
            byPartition.computeIfAbsent(key, k -> new ArrayList<>()).add(conformed);
        }
        byPartition.forEach((key, part) -> files.add(writeFile(schema, spec, key, part)));
    }

    /** {@code row} as a record of {@code schema}, column by column name. */
    static Record conform(Record row, Schema schema) {
        GenericRecord out = GenericRecord.create(schema);
        for (Types.NestedField column : schema.columns()) {
            Object value = row.struct().field(column.name()) == null ? null : row.getField(column.name());
            if (value == null && column.isRequired()) {
                throw new IllegalStateException("The lake table's column " + column.name()
                        + " is required, and the sink has no value for it");
            }
            out.setField(column.name(), widen(value, column.type()));
        }
        return out;
    }

    /** Iceberg promotes int to long and float to double in place; a value must follow its column. */
    private static Object widen(Object value, Type type) {
        if (value instanceof Integer i && type.typeId() == Type.TypeID.LONG) {
            return i.longValue();
        }
        if (value instanceof Float f && type.typeId() == Type.TypeID.DOUBLE) {
            return f.doubleValue();
        }
        return value;
    }

    private DataFile writeFile(Schema schema, PartitionSpec spec, PartitionKey key, List<Record> rows) {
        String name = writerId + "-" + UUID.randomUUID() + ".parquet";
        OutputFile out = table.io().newOutputFile(table.locationProvider().newDataLocation(spec, key, name));
        try {
            DataWriter<Record> writer = Parquet.writeData(out)
                    .forTable(table)
                    .schema(schema)
                    .withSpec(spec)
                    .withPartition(key)
                    .createWriterFunc(GenericParquetWriter::create)
                    .overwrite()
                    .build();
            try (writer) {
                rows.forEach(writer::write);
            }
            return writer.toDataFile();
        } catch (IOException | RuntimeException e) {
            // What was written of it is in no snapshot
            try {
                table.io().deleteFile(out.location());
            } catch (RuntimeException notDeleted) {
                e.addSuppressed(notDeleted);
            }
            if (e instanceof IOException io) {
                throw new UncheckedIOException("Could not write " + out.location(), io);
            }
            throw (RuntimeException) e;
        }
    }
}
