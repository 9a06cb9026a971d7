package dev.mgmstream.model.lm;

import java.util.List;

/**
 * The past keys and values of the sequences decoding together, and where each row's tokens begin. Every row
 * holds its tokens right-aligned: positions before {@code start[row]} are padding, masked out by the
 * attention mask, so rows of different lengths share one tensor. The tensors live wherever the decoder
 * backend keeps them; closing the cache frees them.
 */
final class KvCache implements AutoCloseable {

    final DecoderBackend.Kv kv;
    final int rows;
    final int length;
    final int[] start;

    KvCache(DecoderBackend.Kv kv, int[] start) {
        this.kv = kv;
        this.rows = kv.rows();
        this.length = kv.length();
        this.start = start;
    }

    /**
     * A new cache holding the chosen rows of {@code a} and then those of {@code b} (either may be null),
     * each right-aligned in the smallest length that fits the longest row. Padding columns no row still
     * needs are dropped, which keeps the cache as short as its longest live sequence.
     */
    static KvCache repack(DecoderBackend.Stepper stepper, KvCache a, List<Integer> rowsOfA, KvCache b,
                          List<Integer> rowsOfB) {
        int n = rowsOfA.size() + rowsOfB.size();
        int len = 0;
        for (int r : rowsOfA) {
            len = Math.max(len, a.length - a.start[r]);
        }
        for (int r : rowsOfB) {
            len = Math.max(len, b.length - b.start[r]);
        }
        int[] start = new int[n];
        int i = 0;
        for (int r : rowsOfA) {
            start[i++] = len - (a.length - a.start[r]);
        }
        for (int r : rowsOfB) {
            start[i++] = len - (b.length - b.start[r]);
        }
        DecoderBackend.Kv kv = stepper.repack(a == null ? null : a.kv, a == null ? new int[0] : a.start,
                toArray(rowsOfA), b == null ? null : b.kv, b == null ? new int[0] : b.start, toArray(rowsOfB), len);
        return new KvCache(kv, start);
    }

    private static int[] toArray(List<Integer> rows) {
        return rows.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public void close() {
        kv.close();
    }
}
