package dev.mgmstream.encoders.cache;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Holds the cache store's RocksDB to one memory budget, {@value #MEMORY_BYTES} bytes of native memory: a
 * block cache of that size that also holds the index and filter blocks (otherwise they sit outside any
 * bound and grow with the data), and write buffers charged to that same cache, a quarter of it at most.
 *
 * <p>Kafka Streams creates one setter per store it opens and closes it with the store, so the cache and the
 * buffer manager live exactly as long as one store; the visual-token cache opens one store per instance.
 */
public final class BoundedRocksDB implements RocksDBConfigSetter {

    /** The Streams property this setter reads its budget from, in bytes. */
    public static final String MEMORY_BYTES = "encoders.cache.memory.bytes";

    /** The smallest budget taken: below it RocksDB would flush a memtable on nearly every write. */
    static final long MIN_BYTES = 4L << 20;

    private static final long MAX_WRITE_BUFFER = 16L << 20;

    private Cache cache;
    private WriteBufferManager writeBuffers;

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        Object budget = configs.get(MEMORY_BYTES);
        long total = Math.max(MIN_BYTES, budget == null ? MIN_BYTES : Long.parseLong(budget.toString().trim()));
        long writeBufferTotal = total / 4;
        // -1: RocksDB picks the shard count; not strict, so a read never fails when the cache is full; 10% of
        // the cache kept for index and filter blocks, which every lookup needs.
        cache = new LRUCache(total, -1, false, 0.1);
        writeBuffers = new WriteBufferManager(writeBufferTotal, cache);

        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(cache);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setTableFormatConfig(table);
        options.setWriteBufferManager(writeBuffers);
        options.setWriteBufferSize(Math.min(MAX_WRITE_BUFFER, writeBufferTotal / 2));
        options.setMaxWriteBufferNumber(2);
    }

    @Override
    public void close(String storeName, Options options) {
        // The store is closed by now; RocksDB frees native memory only when these are closed too.
        if (writeBuffers != null) {
            writeBuffers.close();
        }
        if (cache != null) {
            cache.close();
        }
    }
}
