/**
 * The data lake: the {@code sink} stage reads the answers topic and appends every answer, exactly
 * once, to an Apache Iceberg table in Parquet, partitioned by day.
 *
 * <p>Exactly once without a Kafka transaction: the offsets consumed up to each commit are written
 * into the table's properties (and the snapshot's summary) in the same atomic metadata swap as the
 * data files, and a
 * sink that starts, or takes over partitions, resumes from the offsets in the table, not from the
 * consumer group's. The group's committed offsets are updated afterwards for lag monitoring only.
 */
package dev.mgmstream.lake;
