package dev.mgmstream.model.lm;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.TranslateException;
import dev.mgmstream.model.Tensors;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Token embeddings looked up in Java once the embedding graph has produced them. The graph is a plain
 * table lookup, so its rows are exact and can be kept; a decode step then makes one ONNX Runtime call
 * (the decoder) instead of two, which matters most at small batch sizes where per-call overhead
 * dominates. Bounded by {@code maxFloats}: a real vocabulary times a real width would not fit, so rows
 * beyond the bound are computed each time rather than kept. Shared by all generators of a model.
 */
final class TokenEmbeddings {

    private final int dim;
    private final double scale;
    private final String inputName;
    private final int maxRows;
    private final Map<Long, float[]> rows = new ConcurrentHashMap<>();

    TokenEmbeddings(int dim, double scale, String inputName, long maxFloats) {
        this.dim = dim;
        this.scale = scale == 0.0 ? 1.0 : scale;
        this.inputName = inputName;
        this.maxRows = (int) Math.min(Integer.MAX_VALUE, maxFloats / dim);
    }

    /** {@code ids.length x dim} floats, row-major, scaled by the manifest's {@code embeddings_scale}. */
    float[] lookup(long[] ids, Predictor<NDList, NDList> graph, NDManager m) throws TranslateException {
        Set<Long> missing = new LinkedHashSet<>();
        for (long id : ids) {
            if (!rows.containsKey(id)) {
                missing.add(id);
            }
        }
        Map<Long, float[]> fresh = Map.of();
        if (!missing.isEmpty()) {
            fresh = compute(missing, graph, m);
        }
        float[] out = new float[ids.length * dim];
        for (int i = 0; i < ids.length; i++) {
            float[] row = rows.get(ids[i]);
            if (row == null) {
                row = fresh.get(ids[i]);
            }
            System.arraycopy(row, 0, out, i * dim, dim);
        }
        return out;
    }

    private Map<Long, float[]> compute(Set<Long> ids, Predictor<NDList, NDList> graph, NDManager parent)
            throws TranslateException {
        long[] list = ids.stream().mapToLong(Long::longValue).toArray();
        try (NDManager m = parent.newSubManager()) {
            NDArray in = m.create(list, new Shape(1, list.length));
            in.setName(inputName);
            float[] all = Tensors.toFloats(graph.predict(new NDList(in)).get(0));   // (1, k, dim)
            Map<Long, float[]> out = new java.util.HashMap<>();
            for (int i = 0; i < list.length; i++) {
                float[] row = Arrays.copyOfRange(all, i * dim, (i + 1) * dim);
                if (scale != 1.0) {
                    for (int k = 0; k < dim; k++) {
                        row[k] = (float) (row[k] * scale);
                    }
                }
                out.put(list[i], row);
                if (rows.size() < maxRows) {
                    rows.put(list[i], row);
                }
            }
            return out;
        }
    }
}
