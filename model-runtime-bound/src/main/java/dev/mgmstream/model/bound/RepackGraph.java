package dev.mgmstream.model.bound;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The ONNX graph that re-packs the KV cache where it lives (on the GPU for the CUDA provider), written here as
 * ONNX protobuf bytes so that every export, mgm-tiny's included, gets it without a new file. For each of the
 * cache's {@code count} tensors (every layer's key and value):
 * <pre>
 *   out_i = Concat(Gather(Gather(a_i, a_rows, axis 0), a_cols, axis 2),
 *                  Gather(Gather(b_i, b_rows, axis 0), b_cols, axis 2))
 * </pre>
 * The first Gather picks rows, the second the columns of the new length: every row is right-aligned, so the
 * column map {@code max(0, j + source - length)} keeps each row's live positions at the right end whether the
 * cache grows (the padding columns repeat column 0, masked out and finite) or shrinks (columns only padding
 * held are dropped). Gather works for every element type on every provider, where Pad has no bfloat16 kernel.
 * All shapes are dynamic, so one session serves every row count and length; all tensors in one run, since on a
 * GPU each run ends with a synchronisation.
 */
final class RepackGraph {

    private RepackGraph() {
    }

    static final String[] INDEX_INPUTS = {"a_rows", "a_cols", "b_rows", "b_cols"};

    static String a(int i) {
        return "a" + i;
    }

    static String b(int i) {
        return "b" + i;
    }

    static String out(int i) {
        return "out" + i;
    }

    /** The model for {@code count} KV tensors of the given ONNX element type. */
    static byte[] model(int elementType, int count) {
        Proto graph = new Proto();
        for (int i = 0; i < count; i++) {
            for (String side : new String[] {a(i), b(i)}) {
                String p = side.substring(0, 1);
                graph.message(1, node("Gather", new String[] {side, p + "_rows"}, side + "_r", "axis", 0));
                graph.message(1, node("Gather", new String[] {side + "_r", p + "_cols"}, side + "_c", "axis", 2));
            }
            graph.message(1, node("Concat", new String[] {a(i) + "_c", b(i) + "_c"}, out(i), "axis", 0));
        }
        graph.string(2, "kv_repack");
        for (int i = 0; i < count; i++) {
            graph.message(11, valueInfo(a(i), elementType, 4));
            graph.message(11, valueInfo(b(i), elementType, 4));
        }
        for (String index : INDEX_INPUTS) {
            graph.message(11, valueInfo(index, OrtApi.ELEMENT_INT64, 1));
        }
        for (int i = 0; i < count; i++) {
            graph.message(12, valueInfo(out(i), elementType, 4));
        }

        Proto opset = new Proto();
        opset.string(1, "");
        opset.varint(2, 13);
        Proto model = new Proto();
        model.varint(1, 7);   // IR version 7 goes with opset 13
        model.string(2, "mgm-stream");
        model.message(7, graph);
        model.message(8, opset);
        return model.bytes();
    }

    /** Source column of each of the {@code length} new columns, for rows right-aligned in {@code source}. */
    static long[] columns(int source, int length) {
        long[] cols = new long[length];
        for (int j = 0; j < length; j++) {
            cols[j] = Math.max(0, j + source - length);
        }
        return cols;
    }

    private static Proto node(String op, String[] inputs, String output, String intAttribute, long value) {
        Proto n = new Proto();
        for (String in : inputs) {
            n.string(1, in);
        }
        n.string(2, output);
        n.string(3, output + "_" + op);
        n.string(4, op);
        if (intAttribute != null) {
            Proto a = new Proto();
            a.string(1, intAttribute);
            a.varint(3, value);
            a.varint(20, 2);   // AttributeType INT
            n.message(5, a);
        }
        return n;
    }

    /** A value of the given element type and rank, every dimension named (dynamic). */
    private static Proto valueInfo(String name, int elementType, int rank) {
        Proto shape = new Proto();
        for (int i = 0; i < rank; i++) {
            Proto dim = new Proto();
            dim.string(2, name + "_d" + i);
            shape.message(1, dim);
        }
        Proto tensor = new Proto();
        tensor.varint(1, elementType);
        tensor.message(2, shape);
        Proto type = new Proto();
        type.message(1, tensor);
        Proto v = new Proto();
        v.string(1, name);
        v.message(2, type);
        return v;
    }

    /** Just enough of the protobuf wire format: varints and length-delimited fields. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void varint(int field, long value) {
            raw((long) field << 3);
            raw(value);
        }

        void bytes(int field, byte[] value) {
            raw((long) field << 3 | 2);
            raw(value.length);
            out.writeBytes(value);
        }

        void string(int field, String value) {
            bytes(field, value.getBytes(StandardCharsets.UTF_8));
        }

        void message(int field, Proto value) {
            bytes(field, value.bytes());
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) (v & 0x7F) | 0x80);
                v >>>= 7;
            }
            out.write((int) v);
        }
    }
}
