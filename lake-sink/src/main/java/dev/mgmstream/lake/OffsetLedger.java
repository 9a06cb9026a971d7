package dev.mgmstream.lake;

import java.util.HashMap;
import java.util.Map;

import org.apache.iceberg.Snapshot;
import org.apache.iceberg.SnapshotUpdate;
import org.apache.iceberg.TableMetadata;

/**
 * The Kafka offsets the table has consumed, kept in snapshot summaries under
 * {@code mgm.kafka.offset:<source>:<partition>} = the next offset to read, where the source names the
 * topic and its topic id ({@code mgm.answers/Hk3...}).
 *
 * <p>Every sink commit carries the whole map for its topic (its own partitions' new offsets over the
 * ones its base snapshot held), and a commit succeeds only on the very snapshot it read them from
 * (see {@link AnswerAppender}), so the newest snapshot with any such key tells every partition's
 * position. Snapshots made by other
 * tools (compaction, deletes) carry no keys and are skipped.
 */
final class OffsetLedger {

    static final String PREFIX = "mgm.kafka.offset:";

    private OffsetLedger() {
    }

    /** Partition to next offset, for the table's current snapshot; empty for a table no sink wrote. */
    static Map<Integer, Long> read(TableMetadata metadata, String source) {
        String prefix = PREFIX + source + ":";
        for (Snapshot snapshot = metadata.currentSnapshot(); snapshot != null;
             snapshot = snapshot.parentId() == null ? null : metadata.snapshot(snapshot.parentId())) {
            Map<Integer, Long> offsets = new HashMap<>();
            snapshot.summary().forEach((key, value) -> {
                if (key.startsWith(prefix)) {
                    offsets.put(Integer.parseInt(key.substring(prefix.length())), Long.parseLong(value));
                }
            });
            if (!offsets.isEmpty()) {
                return offsets;
            }
        }
        return Map.of();
    }

    static void write(SnapshotUpdate<?> update, String source, Map<Integer, Long> offsets) {
        offsets.forEach((partition, next) -> update.set(PREFIX + source + ":" + partition, Long.toString(next)));
    }

    static Map<Integer, Long> merge(Map<Integer, Long> base, Map<Integer, Long> newer) {
        Map<Integer, Long> merged = new HashMap<>(base);
        merged.putAll(newer);
        return merged;
    }
}
