package dev.mgmstream.model.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.mgmstream.model.ModelManifest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
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
        for (int l = 0; l < lm.numLayers(); l++) {
            NDArray k = m.zeros(shape, DataType.FLOAT32);
            k.setName(lm.decoder().pastKey(l));
            NDArray v = m.zeros(shape, DataType.FLOAT32);
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
        NDManager m = parent.newSubManager();
        try {
            NDArray[] k = new NDArray[layers];
            NDArray[] v = new NDArray[layers];
            Shape shape = new Shape(n, heads, len, headDim);
            for (int l = 0; l < layers; l++) {
                k[l] = m.create(gather(a == null ? null : a.keys[l], a, rowsOfA, b == null ? null : b.keys[l], b,
                        rowsOfB, n, heads, len, headDim), shape, DataType.FLOAT32);
                v[l] = m.create(gather(a == null ? null : a.values[l], a, rowsOfA, b == null ? null : b.values[l], b,
                        rowsOfB, n, heads, len, headDim), shape, DataType.FLOAT32);
            }
            return new KvCache(m, k, v, n, len, start);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The new tensor's contents in a direct buffer, which ONNX Runtime takes as it is: one copy out of each
     * source tensor and one into the result, where going through float arrays took four.
     */
    private static FloatBuffer gather(NDArray fromA, KvCache a, List<Integer> rowsOfA, NDArray fromB, KvCache b,
                                      List<Integer> rowsOfB, int n, int heads, int len, int headDim) {
        FloatBuffer out = ByteBuffer.allocateDirect(Float.BYTES * n * heads * len * headDim)
                .order(ByteOrder.nativeOrder()).asFloatBuffer();
        int row = 0;
        if (!rowsOfA.isEmpty()) {
            row = copyRows(floats(fromA), a, rowsOfA, out, row, heads, len, headDim);
        }
        if (!rowsOfB.isEmpty()) {
            copyRows(floats(fromB), b, rowsOfB, out, row, heads, len, headDim);
        }
        return out;
    }

    private static FloatBuffer floats(NDArray array) {
        return array.toByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** Copies each row's live tail (contiguous per head) to the right end of its new row; padding stays zero. */
    private static int copyRows(FloatBuffer src, KvCache c, List<Integer> rows, FloatBuffer out, int row, int heads,
                                int len, int headDim) {
        for (int r : rows) {
            int live = c.length - c.start[r];
            for (int h = 0; h < heads; h++) {
                int from = ((r * heads + h) * c.length + c.start[r]) * headDim;
                int to = ((row * heads + h) * len + (len - live)) * headDim;
                out.put(to, src, from, live * headDim);
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
