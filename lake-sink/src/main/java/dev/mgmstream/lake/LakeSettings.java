package dev.mgmstream.lake;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.mgmstream.pipeline.config.ConfigKey;
import org.apache.iceberg.catalog.TableIdentifier;

/**
 * Where the lake is and how the sink writes to it, read from configuration (see
 * docs/configuration.md). {@code lake.catalog.property.X=V} passes {@code X=V} to the Iceberg catalog
 * untouched, for what a REST catalog or an object store needs (credentials, {@code io-impl},
 * {@code s3.endpoint}).
 */
public record LakeSettings(String catalogType, String catalogName, String warehouse, String catalogUri,
                           TableIdentifier table, Map<String, String> catalogProperties, String groupId,
                           int maxRows, Duration commitInterval, Duration pollTimeout, int commitAttempts) {

    public static final ConfigKey CATALOG_TYPE = new ConfigKey("lake.catalog.type", "hadoop",
            "hadoop: a catalog kept as files under lake.warehouse (a local directory by default), safe for "
                    + "several sink processes on one machine (their commits take a file lock) or on HDFS; "
                    + "rest: an Iceberg REST catalog at lake.catalog.uri, for sinks on several machines or an "
                    + "object store; jdbc: Iceberg's JDBC catalog at lake.catalog.uri (default: an SQLite file "
                    + "catalog.db in a local warehouse), a lake on object storage without a catalog server (S3 "
                    + "through lake.catalog.property.io-impl); one sink per SQLite file, a database server for more.");
    public static final ConfigKey CATALOG_NAME = new ConfigKey("lake.catalog.name", "mgm",
            "Name of the catalog, as engines that query the lake will refer to it.");
    public static final ConfigKey WAREHOUSE = new ConfigKey("lake.warehouse", "lake",
            "The warehouse: for the hadoop catalog a directory (relative paths resolve against the working "
                    + "directory) or a Hadoop file system URI; for a REST catalog, passed as its warehouse.");
    public static final ConfigKey CATALOG_URI = new ConfigKey("lake.catalog.uri", "",
            "URI of the REST catalog (required when lake.catalog.type is rest), or the JDBC URL of the jdbc "
                    + "catalog (jdbc:sqlite:/path/catalog.db, jdbc:postgresql://...).");
    public static final ConfigKey TABLE = new ConfigKey("lake.table", "mgm.answers",
            "The answers table as namespace.name; created with its schema and day partitioning when missing.");
    public static final ConfigKey GROUP_ID = new ConfigKey("sink.group.id", "sink",
            "Consumer group of the sink stage. The table, not the group, holds the offsets that count.");
    public static final ConfigKey MAX_ROWS = new ConfigKey("sink.commit.max.rows", "5000",
            "Most answers written in one Iceberg commit.");
    public static final ConfigKey COMMIT_INTERVAL = new ConfigKey("sink.commit.interval.ms", "60000",
            "Longest an answer waits before the sink commits it to the table; each commit makes one snapshot, so "
                    + "this bounds them: 1,440 a day per sink at the default under steady load (2 s would make "
                    + "43,200). Lower it for fresher tables, and expire snapshots either way (docs/configuration.md).");
    public static final ConfigKey POLL_TIMEOUT = new ConfigKey("sink.poll.timeout.ms", "200",
            "Longest single poll of the answers topic; bounds how quickly a stop request is noticed.");
    public static final ConfigKey COMMIT_ATTEMPTS = new ConfigKey("sink.commit.attempts", "20",
            "Attempts at one Iceberg commit that lost a race with another writer before the sink gives up.");

    public static final List<ConfigKey> KEYS = List.of(CATALOG_TYPE, CATALOG_NAME, WAREHOUSE, CATALOG_URI, TABLE,
            GROUP_ID, MAX_ROWS, COMMIT_INTERVAL, POLL_TIMEOUT, COMMIT_ATTEMPTS);

    static final String CATALOG_PROPERTY = "lake.catalog.property.";

    public LakeSettings {
        catalogProperties = Map.copyOf(catalogProperties);
        if (!catalogType.equals("hadoop") && !catalogType.equals("rest") && !catalogType.equals("jdbc")) {
            throw new IllegalArgumentException(CATALOG_TYPE.name() + " must be hadoop, rest or jdbc, was '"
                    + catalogType + "'");
        }
        if (catalogType.equals("jdbc") && catalogUri.isBlank()) {
            throw new IllegalArgumentException(CATALOG_URI.name() + " is required when " + CATALOG_TYPE.name()
                    + "=jdbc and the warehouse is not a local folder");
        }
        if (catalogType.equals("rest") && catalogUri.isBlank()) {
            throw new IllegalArgumentException(CATALOG_URI.name() + " is required when " + CATALOG_TYPE.name() + "=rest");
        }
        if (maxRows < 1) {
            throw new IllegalArgumentException(MAX_ROWS.name() + " must be at least 1, was " + maxRows);
        }
        if (commitAttempts < 1) {
            throw new IllegalArgumentException(COMMIT_ATTEMPTS.name() + " must be at least 1, was " + commitAttempts);
        }
    }

    /** Reads settings from a layered configuration map; missing keys take their defaults. */
    public static LakeSettings from(Map<String, String> config) {
        Map<String, String> c = new HashMap<>();
        KEYS.forEach(k -> c.put(k.name(), k.defaultValue()));
        c.putAll(config);
        Map<String, String> props = new HashMap<>();
        c.forEach((k, v) -> {
            if (k.startsWith(CATALOG_PROPERTY)) {
                props.put(k.substring(CATALOG_PROPERTY.length()), v);
            }
        });
        String type = c.get(CATALOG_TYPE.name()).trim().toLowerCase(Locale.ROOT);
        String warehouse = c.get(WAREHOUSE.name()).trim();
        String uri = c.get(CATALOG_URI.name()).trim();
        if (!type.equals("rest") && !warehouse.contains(":")) {
            warehouse = Path.of(warehouse).toAbsolutePath().normalize().toString();
            if (type.equals("jdbc") && uri.isBlank()) {
                // A catalog beside its tables: one file to keep, copy or delete with the lake.
                uri = "jdbc:sqlite:" + Path.of(warehouse, "catalog.db");
            }
        }
        return new LakeSettings(type, c.get(CATALOG_NAME.name()).trim(), warehouse, uri,
                TableIdentifier.parse(c.get(TABLE.name()).trim()), props, c.get(GROUP_ID.name()).trim(),
                integer(c, MAX_ROWS), Duration.ofMillis(integer(c, COMMIT_INTERVAL)),
                Duration.ofMillis(integer(c, POLL_TIMEOUT)), integer(c, COMMIT_ATTEMPTS));
    }

    /** The same settings writing to another warehouse (the CLI points it at its output folder). */
    public LakeSettings withWarehouse(String newWarehouse) {
        return new LakeSettings(catalogType, catalogName, newWarehouse, catalogUri, table, catalogProperties, groupId,
                maxRows, commitInterval, pollTimeout, commitAttempts);
    }

    private static int integer(Map<String, String> c, ConfigKey key) {
        String v = c.get(key.name());
        try {
            return Integer.parseInt(v.trim());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(key.name() + " must be an integer, was '" + v + "'", e);
        }
    }
}
