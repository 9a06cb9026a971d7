package dev.mgmstream.model.bound;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The C API table positions {@link OrtApi} uses, each called here on the CPU build: a wrong position calls
 * another function and fails or crashes. The GPU providers' calls are reached up to the CPU build's refusal,
 * which also shows that an error status comes back as an exception with ONNX Runtime's message. And the
 * re-pack graph, run on known values for every cache element type.
 */
class OrtApiTest {

    private final OrtApi ort = OrtApi.get();

    @Test
    void tensorsOverJavaMemoryReportTheirShapeTypeMemoryAndData() {
        MemorySegment cpu = ort.createCpuMemoryInfo();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment data = a.allocateFrom(JAVA_FLOAT, 1f, 2f, 3f, 4f, 5f, 6f);
            MemorySegment v = ort.tensorOver(cpu, data, new long[] {2, 3}, OrtApi.ELEMENT_FLOAT);
            try {
                OrtApi.Shape s = ort.shape(v);
                assertThat(s.elementType()).isEqualTo(OrtApi.ELEMENT_FLOAT);
                assertThat(s.dims()).containsExactly(2, 3);
                assertThat(ort.memoryName(v)).isEqualTo("Cpu");
                assertThat(ort.data(v).reinterpret(24).toArray(JAVA_FLOAT)).containsExactly(1f, 2f, 3f, 4f, 5f, 6f);
            } finally {
                ort.releaseValue(v);
            }
            MemorySegment owned = ort.allocateTensor(ort.defaultAllocator(), new long[] {4}, OrtApi.ELEMENT_INT64);
            assertThat(ort.shape(owned).dims()).containsExactly(4);
            ort.releaseValue(owned);
        } finally {
            ort.releaseMemoryInfo(cpu);
        }
    }

    @Test
    void gpuProviderCallsReachTheCpuBuildsRefusal() {
        MemorySegment cuda = ort.createMemoryInfo("Cuda", 0);
        ort.releaseMemoryInfo(cuda);
        MemorySegment options = ort.createSessionOptions();
        try {
            ort.setThreads(options, 1, 1);
            ort.addConfigEntry(options, "session.intra_op.allow_spinning", "0");
            assertThatThrownBy(() -> ort.appendCuda(options, Map.of("device_id", "0")))
                    .isInstanceOf(OrtApi.OrtFailure.class).hasMessageContaining("CUDA");
            assertThatThrownBy(() -> ort.appendTensorRt(options, Map.of("device_id", "0")))
                    .isInstanceOf(OrtApi.OrtFailure.class).hasMessageContaining("TensorRT");
        } finally {
            ort.releaseSessionOptions(options);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {OrtApi.ELEMENT_FLOAT, OrtApi.ELEMENT_FLOAT16, OrtApi.ELEMENT_BFLOAT16})
    void theRepackGraphLoadsForEveryCacheType(int type) {
        MemorySegment env = ort.createEnv("test");
        MemorySegment options = ort.createSessionOptions();
        try {
            ort.releaseSession(ort.createSession(env, RepackGraph.model(type, 4), options));
        } finally {
            ort.releaseSessionOptions(options);
            ort.releaseEnv(env);
        }
    }

    /**
     * Rows right-aligned in their source, re-packed to a shorter and to a longer length: the live tail of each
     * chosen row lands at the right end, in the order asked, a's rows before b's.
     */
    @Test
    void theRepackGraphMovesRowsAndRealignsTheirColumns() {
        // a: 3 rows x 1 head x 4 positions x 2; row r position p holds (100r + 10p, 100r + 10p + 1)
        float[] a = new float[3 * 4 * 2];
        for (int r = 0; r < 3; r++) {
            for (int p = 0; p < 4; p++) {
                a[(r * 4 + p) * 2] = 100 * r + 10 * p;
                a[(r * 4 + p) * 2 + 1] = 100 * r + 10 * p + 1;
            }
        }
        // b: 1 row x 1 head x 2 positions x 2, holding 1000 + ...
        float[] b = {1000, 1001, 1010, 1011};
        float[] shorter = repack(a, 4, new long[] {2, 0}, b, 2, new long[] {0}, 3);
        // length 3: a's row 2 keeps positions 1..3, row 0 too; b's row (2 live) is padded left by column 0
        assertThat(shorter).containsExactly(
                210, 211, 220, 221, 230, 231,
                10, 11, 20, 21, 30, 31,
                1000, 1001, 1000, 1001, 1010, 1011);
        float[] longer = repack(a, 4, new long[] {1}, b, 2, new long[] {}, 5);
        assertThat(longer).containsExactly(100, 101, 100, 101, 110, 111, 120, 121, 130, 131);
    }

    private float[] repack(float[] a, int aLength, long[] aRows, float[] b, int bLength, long[] bRows, int length) {
        MemorySegment env = ort.createEnv("test");
        MemorySegment cpu = ort.createCpuMemoryInfo();
        MemorySegment options = ort.createSessionOptions();
        MemorySegment session = ort.createSession(env, RepackGraph.model(OrtApi.ELEMENT_FLOAT, 1), options);
        MemorySegment binding = ort.createIoBinding(session);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment[] in = {
                ort.tensorOver(cpu, arena.allocateFrom(JAVA_FLOAT, a), new long[] {a.length / (aLength * 2), 1, aLength, 2},
                        OrtApi.ELEMENT_FLOAT),
                ort.tensorOver(cpu, arena.allocateFrom(JAVA_FLOAT, b), new long[] {b.length / (bLength * 2), 1, bLength, 2},
                        OrtApi.ELEMENT_FLOAT),
                longs(arena, cpu, aRows), longs(arena, cpu, RepackGraph.columns(aLength, length)),
                longs(arena, cpu, bRows), longs(arena, cpu, RepackGraph.columns(bLength, length))};
            String[] names = {RepackGraph.a(0), RepackGraph.b(0), "a_rows", "a_cols", "b_rows", "b_cols"};
            for (int i = 0; i < names.length; i++) {
                ort.bindInput(binding, arena.allocateFrom(names[i]), in[i]);
            }
            ort.bindOutputToDevice(binding, arena.allocateFrom(RepackGraph.out(0)), cpu);
            ort.runWithBinding(session, ort.createRunOptions(), binding);
            MemorySegment[] out = ort.boundOutputs(binding, ort.defaultAllocator());
            assertThat(out).hasSize(1);
            OrtApi.Shape s = ort.shape(out[0]);
            assertThat(s.dims()).containsExactly(aRows.length + bRows.length, 1, length, 2);
            float[] values = ort.data(out[0]).reinterpret(s.count() * 4).toArray(JAVA_FLOAT);
            ort.releaseValue(out[0]);
            for (MemorySegment v : in) {
                ort.releaseValue(v);
            }
            return values;
        } finally {
            ort.releaseIoBinding(binding);
            ort.releaseSession(session);
            ort.releaseSessionOptions(options);
            ort.releaseMemoryInfo(cpu);
            ort.releaseEnv(env);
        }
    }

    private MemorySegment longs(Arena arena, MemorySegment cpu, long[] values) {
        return ort.tensorOver(cpu, values.length == 0 ? arena.allocate(8) : arena.allocateFrom(JAVA_LONG, values),
                new long[] {values.length}, OrtApi.ELEMENT_INT64);
    }
}
