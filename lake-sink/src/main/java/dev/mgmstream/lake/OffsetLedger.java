package dev.mgmstream.lake;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.iceberg.Snapshot;
import org.apache.iceberg.SnapshotUpdate;
import org.apache.iceberg.TableMetadata;

/**
 * The Kafka offsets the table has consumed, as {@code mgm.kafka.offset:<source>:<partition>} = the next
 * offset to read, where the source names the topic and its topic id ({@code mgm.answers/Hk3...}).
 *
 * <p>They are kept twice, both written in the same metadata swap as the data files (see
 * {@link AnswerAppender}): in the table's properties, which is where they count, and in the summary of
 * the sink's snapshot, as a record of which commit moved which offsets. The summaries alone are not
 * enough: compaction commits snapshots that carry none, and expiring snapshots then removes every one
 * that did, which would make the sink read the whole topic again. Properties survive both.
 *
 * <p>Every sink commit carries the whole map for its topic (its own partitions' new offsets over the
 * ones its base held), and a commit succeeds only on the very table version it read them from, so
 * writers of different partitions never lose each other's offsets. A table written before the
 * properties were kept has its offsets only in summaries, so those are read too; offsets of one source
 * only grow, so for each partition the larger of the two is the table's.
 */
final class OffsetLedger {

    static final String PREFIX = "mgm.kafka.offset:";

    private OffsetLedger() {
    }

    /** Partition to next offset; empty for a table no sink wrote. */
    static Map<Integer, Long> read(TableMetadata metadata, String source) {
        String prefix = PREFIX + source + ":";
        Map<Integer, Long> offsets = parse(metadata.properties(), prefix);
        fromSummaries(metadata, prefix).forEach((partition, next) -> offsets.merge(partition, next, Math::max));
        return offsets;
    }

    /** The newest snapshot that carries offsets has them for every partition (other tools' carry none). */
    private static Map<Integer, Long> fromSummaries(TableMetadata metadata, String prefix) {
        for (Snapshot snapshot = metadata.currentSnapshot(); snapshot != null;
             snapshot = snapshot.parentId() == null ? null : metadata.snapshot(snapshot.parentId())) {
            Map<Integer, Long> offsets = parse(snapshot.summary(), prefix);
            if (!offsets.isEmpty()) {
                return offsets;
            }
        }
        return Map.of();
    }

    private static Map<Integer, Long> parse(Map<String, String> entries, String prefix) {
        Map<Integer, Long> offsets = new HashMap<>();
        entries.forEach((key, value) -> {
            if (key.startsWith(prefix)) {
                offsets.put(Integer.parseInt(key.substring(prefix.length())), Long.parseLong(value));
            }
        });
        return offsets;
    }

    /** The entries for a snapshot summary and for the table properties. */
    static Map<String, String> entries(String source, Map<Integer, Long> offsets) {
        Map<String, String> entries = new HashMap<>();
        offsets.forEach((partition, next) -> entries.put(PREFIX + source + ":" + partition, Long.toString(next)));
        return entries;
    }

    /**
     * The table properties of the same topic under another topic id: a topic deleted and made again
     * (every embedded run makes its broker afresh) would otherwise leave a set behind each time.
     */
    static Set<String> superseded(Map<String, String> properties, String source) {
        int slash = source.lastIndexOf('/');
        if (slash < 0) {
            return Set.of();
        }
        String sameTopic = PREFIX + source.substring(0, slash + 1);
        String current = PREFIX + source + ":";
        return properties.keySet().stream()
                .filter(key -> key.startsWith(sameTopic) && !key.startsWith(current))
                .collect(Collectors.toSet());
    }

    static void write(SnapshotUpdate<?> update, String source, Map<Integer, Long> offsets) {
        entries(source, offsets).forEach(update::set);
    }

    static Map<Integer, Long> merge(Map<Integer, Long> base, Map<Integer, Long> newer) {
        Map<Integer, Long> merged = new HashMap<>(base);
        merged.putAll(newer);
        return merged;
    }
}
