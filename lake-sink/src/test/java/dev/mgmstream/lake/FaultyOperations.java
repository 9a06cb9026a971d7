package dev.mgmstream.lake;

import org.apache.iceberg.BaseTable;
import org.apache.iceberg.HasTableOperations;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableMetadata;
import org.apache.iceberg.TableOperations;
import org.apache.iceberg.io.FileIO;
import org.apache.iceberg.io.InputFile;
import org.apache.iceberg.io.LocationProvider;
import org.apache.iceberg.io.OutputFile;

/**
 * A real table's operations (its catalog, files and commits) with a fault injected where the sink
 * meets Iceberg: at the commit, or when a data file is opened for writing.
 */
final class FaultyOperations implements TableOperations {

    /** What a commit does instead; {@code real} commits for real. */
    interface Commit {
        void commit(TableOperations real, TableMetadata base, TableMetadata metadata);
    }

    /** Decides, for the n-th data file opened (from 1), whether opening it fails. */
    interface DataFileFault {
        void opening(int n, String location);
    }

    private final TableOperations real;
    private final Commit commit;
    private final FileIO io;

    private FaultyOperations(TableOperations real, Commit commit, DataFileFault dataFileFault) {
        this.real = real;
        this.commit = commit;
        this.io = new FaultyIo(real.io(), dataFileFault);
    }

    /** The table as a writer sees it whose commits go through {@code commit}. */
    static Table committingThrough(Table table, Commit commit) {
        return new BaseTable(new FaultyOperations(operations(table), commit, (n, location) -> { }), table.name());
    }

    /** The table as a writer sees it whose data files fail to open as {@code fault} says. */
    static Table writingThrough(Table table, DataFileFault fault) {
        return new BaseTable(new FaultyOperations(operations(table), TableOperations::commit, fault), table.name());
    }

    private static TableOperations operations(Table table) {
        return ((HasTableOperations) table).operations();
    }

    @Override
    public TableMetadata current() {
        return real.current();
    }

    @Override
    public TableMetadata refresh() {
        return real.refresh();
    }

    @Override
    public void commit(TableMetadata base, TableMetadata metadata) {
        commit.commit(real, base, metadata);
    }

    @Override
    public FileIO io() {
        return io;
    }

    @Override
    public String metadataFileLocation(String fileName) {
        return real.metadataFileLocation(fileName);
    }

    @Override
    public LocationProvider locationProvider() {
        return real.locationProvider();
    }

    @Override
    public long newSnapshotId() {
        return real.newSnapshotId();
    }

    private static final class FaultyIo implements FileIO {
        private final FileIO real;
        private final DataFileFault fault;
        private int dataFiles;

        FaultyIo(FileIO real, DataFileFault fault) {
            this.real = real;
            this.fault = fault;
        }

        @Override
        public InputFile newInputFile(String path) {
            return real.newInputFile(path);
        }

        @Override
        public InputFile newInputFile(String path, long length) {
            return real.newInputFile(path, length);
        }

        @Override
        public OutputFile newOutputFile(String path) {
            if (path.endsWith(".parquet")) {
                fault.opening(++dataFiles, path);
            }
            return real.newOutputFile(path);
        }

        @Override
        public void deleteFile(String path) {
            real.deleteFile(path);
        }
    }
}
