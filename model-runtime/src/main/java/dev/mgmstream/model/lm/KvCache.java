package dev.mgmstream.model.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.Tensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The past keys and values of the sequences decoding together: per layer {@code (rows, heads, length, headDim)}.
 * Every row holds its tokens right-aligned: positions before {@code start[row]} are padding, masked
 * out by the attention mask, so rows of different lengths share one tensor. The arrays belong to
 * this cache's own NDManager; closing the cache frees them.
 */
final class KvCache implements AutoCloseable {

    final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;
    final int rows;
    final int length;
    final int[] start;

    private KvCache(NDManager manager, NDArray[] keys, NDArray[] values, int rows, int length, int[] start) {
        this.manager = manager;
        this.keys = keys;
        this.values = values;
        this.rows = rows;
        this.length = length;
        this.start = start;
    }

    /** Takes the decoder's present tensors over into a new manager under {@code parent}. */
    static KvCache adopt(NDManager parent, NDList outputs, ModelManifest.Decoder names, int layers, int rows,
                         int length, int[] start) {
        NDManager m = parent.newSubManager();
        NDArray[] k = new NDArray[layers];
        NDArray[] v = new NDArray[layers];
        for (int l = 0; l < layers; l++) {
            k[l] = outputs.get(names.presentKey(l));
            v[l] = outputs.get(names.presentValue(l));
            if (k[l] == null || v[l] == null) {
                m.close();
                throw new IllegalStateException("decoder returned no " + names.presentKey(l) + " / "
                        + names.presentValue(l));
            }
            k[l].attach(m);
            v[l].attach(m);
        }
        return new KvCache(m, k, v, rows, length, start);
    }

    /** An empty past for a prefill of {@code rows} sequences. */
    static NDList emptyPast(NDManager m, ModelManifest.LanguageModel lm, int rows) {
        NDList past = new NDList();
        Shape shape = new Shape(rows, lm.numKvHeads(), 0, lm.headDim());
        DataType type = Tensors.dataType(lm.decoder().kvElementType());
        for (int l = 0; l < lm.numLayers(); l++) {
            NDArray k = m.zeros(shape, type);
            k.setName(lm.decoder().pastKey(l));
            NDArray v = m.zeros(shape, type);
            v.setName(lm.decoder().pastValue(l));
            past.add(k);
            past.add(v);
        }
        return past;
    }

    /** The cache as decoder inputs, named as the manifest says. */
    NDList asPast(ModelManifest.Decoder names) {
        NDList past = new NDList();
        for (int l = 0; l < keys.length; l++) {
            keys[l].setName(names.pastKey(l));
            values[l].setName(names.pastValue(l));
            past.add(keys[l]);
            past.add(values[l]);
        }
        return past;
    }

    /**
     * A new cache holding the chosen rows of {@code a} and then those of {@code b} (either may be null),
     * each right-aligned in the smallest length that fits the longest row. Padding columns no row still
     * needs are dropped, which keeps the cache as short as its longest live sequence.
     */
    static KvCache repack(NDManager parent, KvCache a, List<Integer> rowsOfA, KvCache b, List<Integer> rowsOfB,
                          int heads, int headDim) {
        int n = rowsOfA.size() + rowsOfB.size();
        int len = 0;
        for (int r : rowsOfA) {
            len = Math.max(len, a.length - a.start[r]);
        }
        for (int r : rowsOfB) {
            len = Math.max(len, b.length - b.start[r]);
        }
        int layers = (a != null ? a : b).keys.length;
        int[] start = new int[n];
        int i = 0;
        for (int r : rowsOfA) {
            start[i++] = len - (a.length - a.start[r]);
        }
        for (int r : rowsOfB) {
            start[i++] = len - (b.length - b.start[r]);
        }
        DataType type = (a != null ? a : b).keys[0].getDataType();
        int unit = type.getNumOfBytes();
        NDManager m = parent.newSubManager();
        try {
            NDArray[] k = new NDArray[layers];
            NDArray[] v = new NDArray[layers];
            Shape shape = new Shape(n, heads, len, headDim);
            for (int l = 0; l < layers; l++) {
                k[l] = m.create(gather(a == null ? null : a.keys[l], a, rowsOfA, b == null ? null : b.keys[l], b,
                        rowsOfB, n, heads, len, headDim * unit), shape, type);
                v[l] = m.create(gather(a == null ? null : a.values[l], a, rowsOfA, b == null ? null : b.values[l], b,
                        rowsOfB, n, heads, len, headDim * unit), shape, type);
            }
            return new KvCache(m, k, v, n, len, start);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The new tensor's contents in a direct buffer, which ONNX Runtime takes as it is: one copy out of each
     * source tensor and one into the result, where going through float arrays took four. Rows are copied as
     * bytes ({@code rowBytes} per position and head), so float16 caches cost half and need no conversion.
     */
    private static ByteBuffer gather(NDArray fromA, KvCache a, List<Integer> rowsOfA, NDArray fromB, KvCache b,
                                     List<Integer> rowsOfB, int n, int heads, int len, int rowBytes) {
        ByteBuffer out = ByteBuffer.allocateDirect(n * heads * len * rowBytes).order(ByteOrder.nativeOrder());
        int row = 0;
        if (!rowsOfA.isEmpty()) {
            row = copyRows(fromA.toByteBuffer(), a, rowsOfA, out, row, heads, len, rowBytes);
        }
        if (!rowsOfB.isEmpty()) {
            copyRows(fromB.toByteBuffer(), b, rowsOfB, out, row, heads, len, rowBytes);
        }
        return out;
    }

    /** Copies each row's live tail (contiguous per head) to the right end of its new row; padding stays zero. */
    private static int copyRows(ByteBuffer src, KvCache c, List<Integer> rows, ByteBuffer out, int row, int heads,
                                int len, int rowBytes) {
        for (int r : rows) {
            int live = c.length - c.start[r];
            for (int h = 0; h < heads; h++) {
                int from = ((r * heads + h) * c.length + c.start[r]) * rowBytes;
                int to = ((row * heads + h) * len + (len - live)) * rowBytes;
                out.put(to, src, from, live * rowBytes);
            }
            row++;
        }
        return row;
    }

    @Override
    public void close() {
        manager.close();
    }
}
