package dev.mgmstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.mgmstream.model.vision.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;

/**
 * Moves values between Java floats and graph tensors in the element type a graph declares. Exports of the
 * released checkpoints run in float16 (bfloat16 where a user asks), while Java computes in float: values are
 * widened on the way out and rounded (to nearest even) on the way in, exactly once each.
 */
public final class Tensors {

    private Tensors() {
    }

    /** The DJL type of a manifest dtype name ({@code float32}, {@code float16}, {@code bfloat16}). */
    public static DataType dataType(String dtype) {
        return switch (TensorBytes.normalise(dtype == null ? "float32" : dtype)) {
            case "float32" -> DataType.FLOAT32;
            case "float16" -> DataType.FLOAT16;
            case "bfloat16" -> DataType.BFLOAT16;
            default -> throw new IllegalArgumentException("unsupported tensor dtype '" + dtype
                    + "'; known: float32, float16, bfloat16");
        };
    }

    /** The array's values as floats, whatever its floating-point type. */
    public static float[] toFloats(NDArray a) {
        DataType t = a.getDataType();
        if (t == DataType.FLOAT32) {
            return a.toFloatArray();
        }
        if (t != DataType.FLOAT16 && t != DataType.BFLOAT16) {
            throw new IllegalArgumentException("expected a floating-point tensor, got " + t + " for " + a.getName());
        }
        ShortBuffer halves = a.toByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer();
        float[] out = new float[halves.remaining()];
        for (int i = 0; i < out.length; i++) {
            short h = halves.get(i);
            out[i] = t == DataType.FLOAT16 ? TensorBytes.fromHalf(h) : Float.intBitsToFloat((h & 0xFFFF) << 16);
        }
        return out;
    }

    /** A tensor of the given type holding {@code values} (rounded when the type is narrower). */
    public static NDArray create(NDManager m, float[] values, Shape shape, DataType type) {
        if (type == DataType.FLOAT32) {
            return m.create(values, shape);
        }
        ByteBuffer buf = ByteBuffer.allocateDirect(values.length * 2).order(ByteOrder.nativeOrder());
        for (float v : values) {
            buf.putShort(type == DataType.FLOAT16 ? TensorBytes.toHalf(v) : TensorBytes.toBfloat16(v));
        }
        buf.rewind();
        return m.create(buf, shape, type);
    }

    /** A tensor of the given type holding {@code values}. */
    public static NDArray create(NDManager m, float[] values, Shape shape, String dtype) {
        return create(m, values, shape, dataType(dtype));
    }
}
