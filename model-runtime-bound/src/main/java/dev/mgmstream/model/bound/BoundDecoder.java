package dev.mgmstream.model.bound;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.mgmstream.model.EngineOptions;
import dev.mgmstream.model.ModelManifest;
import dev.mgmstream.model.lm.DecoderBackend;
import dev.mgmstream.model.vision.TensorBytes;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The decoder with its KV cache kept where the provider computes: each step binds the previous step's present
 * tensors as the past inputs and asks ONNX Runtime to leave the new present tensors in the provider's memory
 * (I/O binding); only the embeddings, mask and positions go in from the host and only the logits come out. On
 * the CUDA and TensorRT providers the cache therefore never crosses PCIe; re-packing rows between steps runs
 * as a small graph ({@link RepackGraph}) on the same device. On the CPU provider the same code runs with the
 * cache in host memory, which is how the tests here check it against the DJL path.
 *
 * <p>The session is shared by the workers (ONNX Runtime sessions may run concurrently); each worker binds
 * through its own {@link DecoderBackend.Stepper}.
 */
final class BoundDecoder implements DecoderBackend {

    private final OrtApi ort = OrtApi.get();
    private final ModelManifest.LanguageModel spec;
    private final ModelManifest.Decoder names;
    private final String provider;
    private final int embedsType;
    private final int kvType;
    private final MemorySegment env;
    private final MemorySegment session;
    private final MemorySegment repackSession;
    private final MemorySegment runOptions;
    private final MemorySegment cpu;
    private final MemorySegment kvMemory;
    private final MemorySegment allocator;
    /** Input and output names as C strings, for the life of the decoder. */
    private final Arena names0 = Arena.ofShared();
    private final MemorySegment inputsEmbeds;
    private final MemorySegment attentionMask;
    private final MemorySegment positionIds;
    private final MemorySegment logits;
    private final MemorySegment[] pastKeys;
    private final MemorySegment[] pastValues;
    private final MemorySegment[] presentKeys;
    private final MemorySegment[] presentValues;
    private final MemorySegment[] repackInputs;
    private final MemorySegment repackOutput;

    BoundDecoder(ModelManifest manifest, EngineOptions engine) {
        this.spec = manifest.languageModel();
        this.names = spec.decoder();
        this.provider = engine.provider();
        var embedsSpec = names.inputs().get("inputs_embeds");
        this.embedsType = elementType(embedsSpec == null ? null : embedsSpec.dtype());
        this.kvType = elementType(names.kvElementType());
        int layers = spec.numLayers();
        inputsEmbeds = names0.allocateFrom("inputs_embeds");
        attentionMask = names0.allocateFrom("attention_mask");
        positionIds = names0.allocateFrom("position_ids");
        logits = names0.allocateFrom("logits");
        pastKeys = new MemorySegment[layers];
        pastValues = new MemorySegment[layers];
        presentKeys = new MemorySegment[layers];
        presentValues = new MemorySegment[layers];
        for (int l = 0; l < layers; l++) {
            pastKeys[l] = names0.allocateFrom(names.pastKey(l));
            pastValues[l] = names0.allocateFrom(names.pastValue(l));
            presentKeys[l] = names0.allocateFrom(names.presentKey(l));
            presentValues[l] = names0.allocateFrom(names.presentValue(l));
        }
        repackInputs = new MemorySegment[RepackGraph.INPUTS.length];
        for (int i = 0; i < repackInputs.length; i++) {
            repackInputs[i] = names0.allocateFrom(RepackGraph.INPUTS[i]);
        }
        repackOutput = names0.allocateFrom(RepackGraph.OUTPUT);

        List<Runnable> undo = new ArrayList<>();
        try {
            env = ort.createEnv("mgm-decoder");
            undo.add(() -> ort.releaseEnv(env));
            cpu = ort.createCpuMemoryInfo();
            undo.add(() -> ort.releaseMemoryInfo(cpu));
            allocator = ort.defaultAllocator();
            kvMemory = provider.equals("cpu") ? cpu : ort.createMemoryInfo("Cuda", engine.deviceId());
            if (kvMemory != cpu) {
                undo.add(() -> ort.releaseMemoryInfo(kvMemory));
            }
            MemorySegment options = sessionOptions(engine);
            try {
                session = ort.createSession(env, manifest.file(names.file()).toString(), options);
                undo.add(() -> ort.releaseSession(session));
                repackSession = ort.createSession(env, RepackGraph.model(kvType), options);
                undo.add(() -> ort.releaseSession(repackSession));
            } finally {
                ort.releaseSessionOptions(options);
            }
            runOptions = ort.createRunOptions();
        } catch (RuntimeException e) {
            for (int i = undo.size() - 1; i >= 0; i--) {
                undo.get(i).run();
            }
            names0.close();
            throw e;
        }
    }

    private MemorySegment sessionOptions(EngineOptions engine) {
        MemorySegment o = ort.createSessionOptions();
        try {
            ort.setThreads(o, engine.intraOpThreads(), engine.interOpThreads());
            if (!engine.spinWait()) {
                ort.addConfigEntry(o, "session.intra_op.allow_spinning", "0");
                ort.addConfigEntry(o, "session.inter_op.allow_spinning", "0");
            }
            Map<String, String> device = new LinkedHashMap<>();
            device.put("device_id", Integer.toString(engine.deviceId()));
            if (provider.equals("tensorrt")) {
                Map<String, String> trt = new LinkedHashMap<>(device);
                trt.putAll(engine.tensorRtOptions());
                ort.appendTensorRt(o, trt);
            }
            if (!provider.equals("cpu")) {
                ort.appendCuda(o, device);
            }
            return o;
        } catch (RuntimeException e) {
            ort.releaseSessionOptions(o);
            throw new IllegalStateException("ONNX Runtime refused the " + provider + " provider for the decoder: "
                    + e.getMessage(), e);
        }
    }

    static int elementType(String dtype) {
        String t = dtype == null ? "float32" : TensorBytes.normalise(dtype);
        return switch (t) {
            case "float32" -> OrtApi.ELEMENT_FLOAT;
            case "float16" -> OrtApi.ELEMENT_FLOAT16;
            case "bfloat16" -> OrtApi.ELEMENT_BFLOAT16;
            default -> throw new IllegalArgumentException("unsupported tensor dtype '" + dtype + "'");
        };
    }

    @Override
    public Stepper newStepper() {
        return new BoundStepper();
    }

    @Override
    public String describe() {
        return "io-binding(" + provider + ", cache in " + (provider.equals("cpu") ? "host" : "device") + " memory)";
    }

    /** Where the present tensors of the last step were left: {@code Cpu} or {@code Cuda}; for tests. */
    String kvMemoryName(Kv kv) {
        return ort.memoryName(((BoundKv) kv).keys[0]);
    }

    @Override
    public void close() {
        ort.releaseRunOptions(runOptions);
        ort.releaseSession(repackSession);
        ort.releaseSession(session);
        if (kvMemory != cpu) {
            ort.releaseMemoryInfo(kvMemory);
        }
        ort.releaseMemoryInfo(cpu);
        ort.releaseEnv(env);
        names0.close();
    }

    /** Every layer's key and value as ONNX Runtime values in the provider's memory. */
    private final class BoundKv implements Kv {
        final MemorySegment[] keys;
        final MemorySegment[] values;
        final int rows;
        final int length;
        final AtomicInteger live;
        boolean closed;

        BoundKv(MemorySegment[] keys, MemorySegment[] values, int rows, int length, AtomicInteger live) {
            this.keys = keys;
            this.values = values;
            this.rows = rows;
            this.length = length;
            this.live = live;
            live.addAndGet(keys.length + values.length);
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
            if (closed) {
                return;
            }
            closed = true;
            for (int l = 0; l < keys.length; l++) {
                ort.releaseValue(keys[l]);
                ort.releaseValue(values[l]);
            }
            live.addAndGet(-(keys.length + values.length));
        }
    }

    private final class BoundStepper implements Stepper {
        /** Values of this stepper's caches not yet released. */
        private final AtomicInteger live = new AtomicInteger();

        @Override
        public Step run(float[] embeds, long[] mask, long[] positions, int rows, int t, Kv past) {
            int layers = spec.numLayers();
            int pastLength = past == null ? 0 : past.length();
            List<MemorySegment> inputs = new ArrayList<>();
            MemorySegment[] outputs = null;
            MemorySegment binding = ort.createIoBinding(session);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment e = inputs(inputs, ort.tensorOver(cpu, floats(arena, embeds, embedsType),
                        new long[] {rows, t, spec.hiddenSize()}, embedsType));
                MemorySegment m = inputs(inputs, ort.tensorOver(cpu, arena.allocateFrom(JAVA_LONG, mask),
                        new long[] {rows, pastLength + t}, OrtApi.ELEMENT_INT64));
                MemorySegment p = inputs(inputs, ort.tensorOver(cpu, arena.allocateFrom(JAVA_LONG, positions),
                        new long[] {rows, t}, OrtApi.ELEMENT_INT64));
                ort.bindInput(binding, inputsEmbeds, e);
                ort.bindInput(binding, attentionMask, m);
                ort.bindInput(binding, positionIds, p);
                if (past == null) {
                    // a zero-length past: no bytes, so one value serves every layer
                    MemorySegment empty = inputs(inputs, ort.tensorOver(cpu, arena.allocate(8),
                            new long[] {rows, spec.numKvHeads(), 0, spec.headDim()}, kvType));
                    for (int l = 0; l < layers; l++) {
                        ort.bindInput(binding, pastKeys[l], empty);
                        ort.bindInput(binding, pastValues[l], empty);
                    }
                } else {
                    BoundKv kv = (BoundKv) past;
                    for (int l = 0; l < layers; l++) {
                        ort.bindInput(binding, pastKeys[l], kv.keys[l]);
                        ort.bindInput(binding, pastValues[l], kv.values[l]);
                    }
                }
                ort.bindOutputToDevice(binding, logits, cpu);
                for (int l = 0; l < layers; l++) {
                    ort.bindOutputToDevice(binding, presentKeys[l], kvMemory);
                    ort.bindOutputToDevice(binding, presentValues[l], kvMemory);
                }
                ort.runWithBinding(session, runOptions, binding);
                outputs = ort.boundOutputs(binding, allocator);
                if (outputs.length != 1 + 2 * layers) {
                    throw new IllegalStateException("decoder gave " + outputs.length + " bound outputs, expected "
                            + (1 + 2 * layers));
                }
                float[] out = readFloats(outputs[0]);
                MemorySegment[] k = new MemorySegment[layers];
                MemorySegment[] v = new MemorySegment[layers];
                for (int l = 0; l < layers; l++) {
                    k[l] = outputs[1 + 2 * l];
                    v[l] = outputs[2 + 2 * l];
                }
                checkKv(k[0], rows, pastLength + t);
                ort.releaseValue(outputs[0]);
                outputs = null;
                return new Step(out, new BoundKv(k, v, rows, pastLength + t, live));
            } finally {
                if (outputs != null) {
                    for (MemorySegment o : outputs) {
                        ort.releaseValue(o);
                    }
                }
                for (MemorySegment in : inputs) {
                    ort.releaseValue(in);
                }
                ort.releaseIoBinding(binding);
            }
        }

        private static MemorySegment inputs(List<MemorySegment> all, MemorySegment value) {
            all.add(value);
            return value;
        }

        private void checkKv(MemorySegment present, int rows, int length) {
            OrtApi.Shape s = ort.shape(present);
            long[] want = {rows, spec.numKvHeads(), length, spec.headDim()};
            if (!java.util.Arrays.equals(s.dims(), want) || s.elementType() != kvType) {
                throw new IllegalStateException("decoder's present tensor is " + java.util.Arrays.toString(s.dims())
                        + " of type " + s.elementType() + ", expected " + java.util.Arrays.toString(want) + " of type "
                        + kvType + " (model.json's decoder section does not match the graph)");
            }
        }

        @Override
        public Kv repack(Kv a, int[] startOfA, int[] rowsOfA, Kv b, int[] startOfB, int[] rowsOfB, int length) {
            BoundKv ka = (BoundKv) a;
            BoundKv kb = (BoundKv) b;
            int layers = spec.numLayers();
            MemorySegment[] k = new MemorySegment[layers];
            MemorySegment[] v = new MemorySegment[layers];
            List<MemorySegment> inputs = new ArrayList<>();
            int made = 0;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment none = inputs(inputs, ort.tensorOver(cpu, arena.allocate(8),
                        new long[] {0, spec.numKvHeads(), 0, spec.headDim()}, kvType));
                MemorySegment[] aSide = side(arena, inputs, rowsOfA, ka == null ? 0 : ka.length, length);
                MemorySegment[] bSide = side(arena, inputs, rowsOfB, kb == null ? 0 : kb.length, length);
                for (int l = 0; l < layers; l++) {
                    k[l] = repackOne(ka == null || rowsOfA.length == 0 ? none : ka.keys[l], aSide,
                            kb == null || rowsOfB.length == 0 ? none : kb.keys[l], bSide);
                    made++;
                    v[l] = repackOne(ka == null || rowsOfA.length == 0 ? none : ka.values[l], aSide,
                            kb == null || rowsOfB.length == 0 ? none : kb.values[l], bSide);
                    made++;
                }
                checkKv(k[0], rowsOfA.length + rowsOfB.length, length);
                return new BoundKv(k, v, rowsOfA.length + rowsOfB.length, length, live);
            } catch (RuntimeException e) {
                for (int i = 0; i < made; i++) {
                    ort.releaseValue(i % 2 == 0 ? k[i / 2] : v[i / 2]);
                }
                throw e;
            } finally {
                for (MemorySegment in : inputs) {
                    ort.releaseValue(in);
                }
            }
        }

        /**
         * One source's rows, cut and pads: the rows are right-aligned in {@code sourceLength} columns, so cutting
         * {@code sourceLength - length} columns off the left or padding the difference there re-aligns them all.
         */
        private MemorySegment[] side(Arena arena, List<MemorySegment> inputs, int[] rows, int sourceLength, int length) {
            long[] r = new long[rows.length];
            for (int i = 0; i < rows.length; i++) {
                r[i] = rows[i];
            }
            int source = rows.length == 0 ? 0 : sourceLength;
            long cut = Math.max(0, source - length);
            long pad = Math.max(0, length - source);
            MemorySegment rowsValue = inputs(inputs, ort.tensorOver(cpu,
                    rows.length == 0 ? arena.allocate(8) : arena.allocateFrom(JAVA_LONG, r), new long[] {r.length},
                    OrtApi.ELEMENT_INT64));
            MemorySegment cutValue = inputs(inputs, ort.tensorOver(cpu, arena.allocateFrom(JAVA_LONG, cut),
                    new long[] {1}, OrtApi.ELEMENT_INT64));
            MemorySegment padsValue = inputs(inputs, ort.tensorOver(cpu,
                    arena.allocateFrom(JAVA_LONG, 0, 0, pad, 0, 0, 0, 0, 0), new long[] {8}, OrtApi.ELEMENT_INT64));
            return new MemorySegment[] {rowsValue, cutValue, padsValue};
        }

        private MemorySegment repackOne(MemorySegment a, MemorySegment[] aSide, MemorySegment b, MemorySegment[] bSide) {
            MemorySegment binding = ort.createIoBinding(repackSession);
            try {
                MemorySegment[] in = {a, aSide[0], aSide[1], aSide[2], b, bSide[0], bSide[1], bSide[2]};
                for (int i = 0; i < in.length; i++) {
                    ort.bindInput(binding, repackInputs[i], in[i]);
                }
                ort.bindOutputToDevice(binding, repackOutput, kvMemory);
                ort.runWithBinding(repackSession, runOptions, binding);
                MemorySegment[] out = ort.boundOutputs(binding, allocator);
                return out[0];
            } finally {
                ort.releaseIoBinding(binding);
            }
        }

        @Override
        public int liveTensors() {
            return live.get();
        }

        @Override
        public void close() {
            // caches are the generator's to close; the session is the decoder's
        }
    }

    /** Java floats as the graph's element type, in native memory. */
    private static MemorySegment floats(Arena arena, float[] values, int type) {
        if (type == OrtApi.ELEMENT_FLOAT) {
            return arena.allocateFrom(JAVA_FLOAT, values);
        }
        MemorySegment s = arena.allocate(JAVA_SHORT, values.length);
        for (int i = 0; i < values.length; i++) {
            short h = type == OrtApi.ELEMENT_FLOAT16 ? TensorBytes.toHalf(values[i]) : TensorBytes.toBfloat16(values[i]);
            s.setAtIndex(JAVA_SHORT, i, h);
        }
        return s;
    }

    /** A host tensor's values as floats, widened from float16 or bfloat16. */
    private float[] readFloats(MemorySegment value) {
        OrtApi.Shape s = ort.shape(value);
        int n = Math.toIntExact(s.count());
        int unit = s.elementType() == OrtApi.ELEMENT_FLOAT ? 4 : 2;
        MemorySegment data = ort.data(value).reinterpret((long) n * unit);
        if (s.elementType() == OrtApi.ELEMENT_FLOAT) {
            return data.toArray(JAVA_FLOAT);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            short h = data.getAtIndex(JAVA_SHORT, i);
            out[i] = s.elementType() == OrtApi.ELEMENT_FLOAT16 ? TensorBytes.fromHalf(h)
                    : Float.intBitsToFloat((h & 0xFFFF) << 16);
        }
        return out;
    }
}
