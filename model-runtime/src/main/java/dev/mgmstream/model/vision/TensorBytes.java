package dev.mgmstream.model.vision;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

/**
 * Visual tokens as bytes on the wire: little-endian, row-major, in float32, float16 or bfloat16.
 * Half precision halves the bytes each task carries through Kafka; the rounding (round to nearest even) costs
 * at most one part in 2048 of each value, far below what changes the language model's argmax in practice.
 * Written by hand because {@code Float.floatToFloat16} only arrived in Java 20.
 */
public final class TensorBytes {

    private TensorBytes() {
    }

    public static int bytesPerElement(String dtype) {
        return switch (normalise(dtype)) {
            case "float32" -> 4;
            case "float16", "bfloat16" -> 2;
            default -> throw new IllegalArgumentException("unsupported dtype '" + dtype
                    + "'; known: float32, float16, bfloat16");
        };
    }

    public static String normalise(String dtype) {
        String d = dtype == null ? "float16" : dtype.toLowerCase(Locale.ROOT);
        return switch (d) {
            case "fp32", "float", "float32" -> "float32";
            case "fp16", "half", "float16" -> "float16";
            case "bf16", "bfloat16" -> "bfloat16";
            default -> d;
        };
    }

    public static byte[] encode(float[] values, String dtype) {
        String d = normalise(dtype);
        ByteBuffer buf = ByteBuffer.allocate(values.length * bytesPerElement(d)).order(ByteOrder.LITTLE_ENDIAN);
        switch (d) {
            case "float32" -> {
                for (float v : values) {
                    buf.putFloat(v);
                }
            }
            case "float16" -> {
                for (float v : values) {
                    buf.putShort(toHalf(v));
                }
            }
            default -> {
                for (float v : values) {
                    buf.putShort(toBfloat16(v));
                }
            }
        }
        return buf.array();
    }

    public static float[] decode(byte[] bytes, String dtype) {
        String d = normalise(dtype);
        int size = bytesPerElement(d);
        if (bytes.length % size != 0) {
            throw new IllegalArgumentException(bytes.length + " bytes are not a whole number of " + d + " values");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[bytes.length / size];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (d) {
                case "float32" -> buf.getFloat();
                case "float16" -> fromHalf(buf.getShort());
                default -> Float.intBitsToFloat((buf.getShort() & 0xFFFF) << 16);
            };
        }
        return out;
    }

    /** IEEE 754 binary16, round to nearest even; overflow gives infinity, tiny values subnormals or zero. */
    public static short toHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = bits >>> 16 & 0x8000;
        int exp = bits >>> 23 & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            int full = mant | 0x800000;
            int shift = 14 - e;
            int half = full >> shift;
            int rest = full & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rest > halfway || (rest == halfway && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = e << 10 | mant >>> 13;
        int rest = mant & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) != 0)) {
            half++; // a carry into the exponent is the correct rounding, up to infinity
        }
        return (short) (sign | half);
    }

    public static float fromHalf(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = bits >>> 10 & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mant << 13);
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | (exp - 15 + 127) << 23 | mant << 13);
    }

    public static short toBfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x7FFFFF) != 0) {
            return (short) (bits >>> 16 | 0x40); // keep NaN a NaN
        }
        int rounding = 0x7FFF + (bits >>> 16 & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
