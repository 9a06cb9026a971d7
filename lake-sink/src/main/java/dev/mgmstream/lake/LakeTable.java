package dev.mgmstream.lake;

import java.io.Closeable;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableProperties;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.SupportsNamespaces;
import org.apache.iceberg.exceptions.AlreadyExistsException;
import org.apache.iceberg.exceptions.CommitFailedException;
import org.apache.iceberg.types.TypeUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the catalog that {@link LakeSettings} names and the answers table in it, creating the table
 * (schema, day partitioning, Parquet) on first use.
 *
 * <pre>{@code
 * try (LakeTable lake = LakeTable.open(LakeSettings.from(Map.of("lake.warehouse", "/tmp/lake")))) {
 *     Table answers = lake.table();
 * }
 * }</pre>
 */
public final class LakeTable implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(LakeTable.class);

    private final Catalog catalog;
    private final Table table;

    private LakeTable(Catalog catalog, Table table) {
        this.catalog = catalog;
        this.table = table;
    }

    public static LakeTable open(LakeSettings settings) {
        Catalog catalog = catalog(settings);
        try {
            return new LakeTable(catalog, loadOrCreate(catalog, settings));
        } catch (UnsupportedOperationException e) {
            closeQuietly(catalog);
            if (String.valueOf(e.getMessage()).contains("getSubject")) {
                throw new IllegalStateException("the lake at " + settings.warehouse() + " is written through Hadoop's "
                        + "file system client, whose user lookup (Subject.getSubject) Java 23 and later no longer "
                        + "allow (this is Java " + Runtime.version().feature() + "): run the sink with Java 17 to 22, "
                        + "or put the lake's files on object storage (s3://, S3FileIO), which does not go through "
                        + "Hadoop", e);
            }
            throw e;
        } catch (RuntimeException e) {
            closeQuietly(catalog);
            throw e;
        }
    }

    public Table table() {
        return table;
    }

    /** The catalog as Iceberg builds it from the settings; the caller closes it. */
    static Catalog catalog(LakeSettings settings) {
        // Hadoop is here only for its local (or HDFS-compatible) FileSystem; no site files are read.
        Configuration conf = new Configuration(false);
        conf.set("fs.file.impl", org.apache.hadoop.fs.LocalFileSystem.class.getName());
        return catalog(settings, conf);
    }

    static Catalog catalog(LakeSettings settings, Configuration conf) {
        Map<String, String> props = new HashMap<>(settings.catalogProperties());
        props.put(CatalogUtil.ICEBERG_CATALOG_TYPE, settings.catalogType());
        props.put(CatalogProperties.WAREHOUSE_LOCATION, settings.warehouse());
        if (!settings.catalogUri().isBlank()) {
            props.put(CatalogProperties.URI, settings.catalogUri());
        }
        if (settings.catalogType().equals("hadoop") && !props.containsKey(CatalogProperties.LOCK_IMPL)) {
            props.put(CatalogProperties.LOCK_IMPL, LocalFolderLock.class.getName());
            // HDFS refuses a rename onto an existing file by itself; object stores and the like do not.
            String scheme = new org.apache.hadoop.fs.Path(settings.warehouse()).toUri().getScheme();
            if (scheme != null && !scheme.equals("file") && !scheme.equals("hdfs")) {
                log.warn("The hadoop lake catalog on {} is safe for one sink process only: its commit lock is a "
                        + "file lock, which reaches other processes on a local folder alone. For several sinks "
                        + "use a REST catalog (lake.catalog.type=rest).", settings.warehouse());
            }
        }
        if (settings.catalogType().equals("jdbc") && settings.catalogUri().startsWith("jdbc:sqlite:")) {
            createParentFolder(settings.catalogUri().substring("jdbc:sqlite:".length()));
            // A reader of the lake (a query engine) must not make the sink's commit fail: readers never block the
            // writer in WAL mode, and a lock held for a moment is waited for.
            props.putIfAbsent("jdbc.busy_timeout", "30000");
            props.putIfAbsent("jdbc.journal_mode", "WAL");
        }
        return CatalogUtil.buildIcebergCatalog(settings.catalogName(), props, conf);
    }

    private static void createParentFolder(String file) {
        java.nio.file.Path parent = java.nio.file.Path.of(file).toAbsolutePath().getParent();
        try {
            java.nio.file.Files.createDirectories(parent);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("Cannot create the folder of the lake catalog " + file, e);
        }
    }

    private static Table loadOrCreate(Catalog catalog, LakeSettings settings) {
        if (catalog.tableExists(settings.table())) {
            return evolve(catalog.loadTable(settings.table()));
        }
        Namespace ns = settings.table().namespace();
        if (catalog instanceof SupportsNamespaces namespaces && !ns.isEmpty() && !namespaces.namespaceExists(ns)) {
            try {
                namespaces.createNamespace(ns);
            } catch (AlreadyExistsException raced) {
                // another sink created it first
            }
        }
        Map<String, String> properties = Map.of(
                TableProperties.DEFAULT_FILE_FORMAT, "parquet",
                TableProperties.FORMAT_VERSION, "2");
        try {
            Table created = catalog.buildTable(settings.table(), AnswerTable.SCHEMA)
                    .withPartitionSpec(AnswerTable.SPEC)
                    .withProperties(properties)
                    .create();
            log.info("Created lake table {} at {}", settings.table(), created.location());
            return created;
        } catch (AlreadyExistsException raced) {
            return catalog.loadTable(settings.table());
        }
    }

    /**
     * Adds the columns of {@link AnswerTable#SCHEMA} that the table lacks (it was made by an older sink),
     * matching by name; columns only the table has (added by others) are kept, and rows are written by
     * name (see {@link AnswerAppender}), so where a column stands does not matter.
     */
    static Table evolve(Table table) {
        for (int attempt = 1; ; attempt++) {
            table.refresh();
            List<String> missing = TypeUtil.indexByName(AnswerTable.SCHEMA.asStruct()).keySet().stream()
                    .filter(name -> table.schema().findField(name) == null)
                    .sorted()
                    .toList();
            if (missing.isEmpty()) {
                return table;
            }
            try {
                table.updateSchema().unionByNameWith(AnswerTable.SCHEMA).commit();
                log.info("Added the columns {} to the lake table {}", missing, table.name());
                return table;
            } catch (CommitFailedException raced) {
                // another sink starting at the same time may have added them already: look again
                if (attempt >= 5) {
                    throw raced;
                }
            }
        }
    }

    /**
     * Closes a REST catalog's client. A Hadoop catalog holds nothing that needs closing, and is left
     * open on purpose: with {@code lock-impl} set to one of Iceberg's own lock managers, closing it would
     * shut down a JVM-wide one that every other Hadoop catalog in the process still commits through.
     */
    @Override
    public void close() {
        if (!(catalog instanceof org.apache.iceberg.hadoop.HadoopCatalog)) {
            closeQuietly(catalog);
        }
    }

    private static void closeQuietly(Catalog catalog) {
        if (catalog instanceof Closeable closeable) {
            try {
                closeable.close();
            } catch (IOException e) {
                log.warn("Closing the lake catalog failed", e);
            }
        }
    }
}
