package dev.mgmstream.model.lm;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.TranslateException;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.OnnxGraph;
import dev.mgmstream.model.Tensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The decoder through DJL's ONNX Runtime engine, the cache in host memory: every step hands the past to
 * ONNX Runtime and takes the present back, which on a GPU provider is a copy each way.
 */
final class DjlDecoder implements DecoderBackend {

    private final OnnxGraph graph;
    private final ModelManifest.LanguageModel spec;
    private final ModelManifest.Decoder names;
    private final DataType embedsType;

    DjlDecoder(OnnxGraph graph, ModelManifest.LanguageModel spec, DataType embedsType) {
        this.graph = graph;
        this.spec = spec;
        this.names = spec.decoder();
        this.embedsType = embedsType;
    }

    @Override
    public Stepper newStepper() {
        return new DjlStepper();
    }

    @Override
    public String describe() {
        return "djl";
    }

    @Override
    public void close() {
        graph.close();
    }

    /** Every layer's key and value arrays, owned by one sub-manager that closing frees. */
    private static final class DjlKv implements Kv {
        final NDManager manager;
        final NDArray[] keys;
        final NDArray[] values;
        final int rows;
        final int length;

        DjlKv(NDManager manager, NDArray[] keys, NDArray[] values, int rows, int length) {
            this.manager = manager;
            this.keys = keys;
            this.values = values;
            this.rows = rows;
            this.length = length;
        }

        @Override
        public int rows() {
            return rows;
        }

        @Override
        public int length() {
            return length;
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    private final class DjlStepper implements Stepper {
        private final NDManager root = graph.manager().newSubManager();
        private final Predictor<NDList, NDList> predictor = graph.newPredictor();

        @Override
        public Step run(float[] embeds, long[] mask, long[] positions, int rows, int t, Kv past)
                throws TranslateException {
            int pastLength = past == null ? 0 : past.length();
            try (NDManager m = root.newSubManager()) {
                NDList in = new NDList();
                in.add(named(Tensors.create(m, embeds, new Shape(rows, t, spec.hiddenSize()), embedsType),
                        LanguageModel.INPUTS_EMBEDS));
                in.add(named(m.create(mask, new Shape(rows, pastLength + t)), LanguageModel.ATTENTION_MASK));
                in.add(named(m.create(positions, new Shape(rows, t)), LanguageModel.POSITION_IDS));
                if (past == null) {
                    addEmptyPast(in, m, rows);
                } else {
                    DjlKv kv = (DjlKv) past;
                    for (int l = 0; l < spec.numLayers(); l++) {
                        in.add(named(kv.keys[l], names.pastKey(l)));
                        in.add(named(kv.values[l], names.pastValue(l)));
                    }
                }
                NDList res = predictor.predict(in);
                float[] logits = Tensors.toFloats(res.get("logits"));
                return new Step(logits, adopt(res, rows, pastLength + t));
            }
        }

        private void addEmptyPast(NDList in, NDManager m, int rows) {
            Shape shape = new Shape(rows, spec.numKvHeads(), 0, spec.headDim());
            DataType type = Tensors.dataType(names.kvElementType());
            for (int l = 0; l < spec.numLayers(); l++) {
                in.add(named(m.zeros(shape, type), names.pastKey(l)));
                in.add(named(m.zeros(shape, type), names.pastValue(l)));
            }
        }

        /** Takes the present tensors over into a new manager, so they outlive the step's own. */
        private DjlKv adopt(NDList outputs, int rows, int length) {
            NDManager m = root.newSubManager();
            int layers = spec.numLayers();
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
            return new DjlKv(m, k, v, rows, length);
        }

        @Override
        public Kv repack(Kv a, int[] startOfA, int[] rowsOfA, Kv b, int[] startOfB, int[] rowsOfB, int length) {
            DjlKv ka = (DjlKv) a;
            DjlKv kb = (DjlKv) b;
            DjlKv any = ka != null ? ka : kb;
            int n = rowsOfA.length + rowsOfB.length;
            int heads = spec.numKvHeads();
            DataType type = any.keys[0].getDataType();
            int rowBytes = spec.headDim() * type.getNumOfBytes();
            NDManager m = root.newSubManager();
            try {
                int layers = any.keys.length;
                NDArray[] k = new NDArray[layers];
                NDArray[] v = new NDArray[layers];
                Shape shape = new Shape(n, heads, length, spec.headDim());
                for (int l = 0; l < layers; l++) {
                    ByteBuffer kb2 = ByteBuffer.allocateDirect(n * heads * length * rowBytes).order(ByteOrder.nativeOrder());
                    ByteBuffer vb2 = ByteBuffer.allocateDirect(n * heads * length * rowBytes).order(ByteOrder.nativeOrder());
                    int row = 0;
                    if (rowsOfA.length > 0) {
                        copyRows(ka.keys[l].toByteBuffer(), ka.length, startOfA, rowsOfA, kb2, row, heads, length, rowBytes);
                        row = copyRows(ka.values[l].toByteBuffer(), ka.length, startOfA, rowsOfA, vb2, row, heads, length,
                                rowBytes);
                    }
                    if (rowsOfB.length > 0) {
                        copyRows(kb.keys[l].toByteBuffer(), kb.length, startOfB, rowsOfB, kb2, row, heads, length, rowBytes);
                        copyRows(kb.values[l].toByteBuffer(), kb.length, startOfB, rowsOfB, vb2, row, heads, length,
                                rowBytes);
                    }
                    k[l] = m.create(kb2, shape, type);
                    v[l] = m.create(vb2, shape, type);
                }
                return new DjlKv(m, k, v, n, length);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        @Override
        public int liveTensors() {
            return root.getManagedArrays().size();
        }

        @Override
        public void close() {
            predictor.close();
            root.close();
        }
    }

    /**
     * Copies each row's live tail (contiguous per head) to the right end of its new row, as bytes, so float16
     * caches cost half and need no conversion; padding stays zero. One copy out of the source tensor and one
     * into the result.
     */
    private static int copyRows(ByteBuffer src, int srcLength, int[] start, int[] rows, ByteBuffer out, int row,
                                int heads, int len, int rowBytes) {
        for (int r : rows) {
            int live = srcLength - start[r];
            for (int h = 0; h < heads; h++) {
                int from = ((r * heads + h) * srcLength + start[r]) * rowBytes;
                int to = ((row * heads + h) * len + (len - live)) * rowBytes;
                out.put(to, src, from, live * rowBytes);
            }
            row++;
        }
        return row;
    }

    private static NDArray named(NDArray a, String name) {
        a.setName(name);
        return a;
    }
}
