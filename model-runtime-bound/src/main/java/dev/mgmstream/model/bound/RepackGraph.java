package dev.mgmstream.model.bound;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The ONNX graph that re-packs a KV tensor where it lives (on the GPU for the CUDA provider), written here as
 * ONNX protobuf bytes so that every export, mgm-tiny's included, gets it without a new file:
 * <pre>
 *   out = Concat(Pad(Slice(Gather(a, a_rows), a_cut..), a_pads), Pad(Slice(Gather(b, b_rows), b_cut..), b_pads))
 * </pre>
 * Gather picks rows; since every row is right-aligned, cutting columns off the left (Slice on axis 2) or padding
 * zeros there (Pad) keeps each row's live positions at the right end, at the new length. All shapes are
 * dynamic, so one session per element type serves every layer, row count and length.
 */
final class RepackGraph {

    private RepackGraph() {
    }

    static final String[] INPUTS = {"a", "a_rows", "a_cut", "a_pads", "b", "b_rows", "b_cut", "b_pads"};
    static final String OUTPUT = "out";

    /** The model for KV tensors of the given ONNX element type. */
    static byte[] model(int elementType) {
        Proto graph = new Proto();
        for (String side : new String[] {"a", "b"}) {
            graph.message(1, node("Gather", new String[] {side, side + "_rows"}, side + "_g", "axis", 0));
            graph.message(1, node("Slice", new String[] {side + "_g", side + "_cut", "end", "axis2"}, side + "_s", null, 0));
            graph.message(1, node("Pad", new String[] {side + "_s", side + "_pads"}, side + "_p", null, 0));
        }
        graph.message(1, node("Concat", new String[] {"a_p", "b_p"}, OUTPUT, "axis", 0));
        graph.string(2, "kv_repack");
        graph.message(5, int64Tensor("end", Long.MAX_VALUE));
        graph.message(5, int64Tensor("axis2", 2));
        for (String side : new String[] {"a", "b"}) {
            graph.message(11, valueInfo(side, elementType, 4));
            graph.message(11, valueInfo(side + "_rows", OrtApi.ELEMENT_INT64, 1));
            graph.message(11, valueInfo(side + "_cut", OrtApi.ELEMENT_INT64, 1));
            graph.message(11, valueInfo(side + "_pads", OrtApi.ELEMENT_INT64, 1));
        }
        graph.message(12, valueInfo(OUTPUT, elementType, 4));

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

    private static Proto int64Tensor(String name, long value) {
        Proto t = new Proto();
        t.varint(1, 1);   // dims: [1]
        t.varint(2, OrtApi.ELEMENT_INT64);
        t.string(8, name);
        t.bytes(9, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
        return t;
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
