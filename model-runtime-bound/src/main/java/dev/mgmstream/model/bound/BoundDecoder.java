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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The decoder with its KV cache kept where the provider computes: each step binds the previous step's present
 * tensors as the past inputs and asks ONNX Runtime to leave the new present tensors in the provider's memory
 * (I/O binding); only the embeddings, mask and positions go in from the host and only the logits come out. On
 * the CUDA and TensorRT providers the cache therefore never crosses PCIe; re-packing rows between steps runs
 * as one small graph over every layer ({@link RepackGraph}) on the same device. On the CPU provider the same
 * code runs with the cache in host memory, which is how the tests here check it against the DJL path.
 *
 * <p>The sessions are shared by the workers (ONNX Runtime sessions may run concurrently); each worker binds
 * through its own {@link DecoderBackend.Stepper}, one I/O binding per call.
 *
 * <p>Memory: the re-pack session has its own CUDA arena, which holds the cache a re-pack writes until the next
 * step has replaced it, so a GPU needs room for about two caches; that arena grows by what is asked, not by
 * powers of two.
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
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Input and output names as C strings, for the life of the decoder. */
    private final Arena cNames = Arena.ofShared();
    private final MemorySegment inputsEmbeds;
    private final MemorySegment attentionMask;
    private final MemorySegment positionIds;
    private final MemorySegment logits;
    private final MemorySegment[] pastKeys;
    private final MemorySegment[] pastValues;
    private final MemorySegment[] presentKeys;
    private final MemorySegment[] presentValues;
    /** The re-pack graph's names: per cache tensor (layer l's key 2l, value 2l + 1) a, b, out; then the indices. */
    private final MemorySegment[] repackA;
    private final MemorySegment[] repackB;
    private final MemorySegment[] repackOut;
    private final MemorySegment[] repackIndex;

    BoundDecoder(ModelManifest manifest, EngineOptions engine) {
        this.spec = manifest.languageModel();
        this.names = spec.decoder();
        this.provider = engine.provider();
        var embedsSpec = names.inputs().get("inputs_embeds");
        this.embedsType = elementType(embedsSpec == null ? null : embedsSpec.dtype());
        this.kvType = elementType(names.kvElementType());
        int layers = spec.numLayers();
        inputsEmbeds = cNames.allocateFrom("inputs_embeds");
        attentionMask = cNames.allocateFrom("attention_mask");
        positionIds = cNames.allocateFrom("position_ids");
        logits = cNames.allocateFrom("logits");
        pastKeys = new MemorySegment[layers];
        pastValues = new MemorySegment[layers];
        presentKeys = new MemorySegment[layers];
        presentValues = new MemorySegment[layers];
        for (int l = 0; l < layers; l++) {
            pastKeys[l] = cNames.allocateFrom(names.pastKey(l));
            pastValues[l] = cNames.allocateFrom(names.pastValue(l));
            presentKeys[l] = cNames.allocateFrom(names.presentKey(l));
            presentValues[l] = cNames.allocateFrom(names.presentValue(l));
        }
        repackA = new MemorySegment[2 * layers];
        repackB = new MemorySegment[2 * layers];
        repackOut = new MemorySegment[2 * layers];
        for (int i = 0; i < 2 * layers; i++) {
            repackA[i] = cNames.allocateFrom(RepackGraph.a(i));
            repackB[i] = cNames.allocateFrom(RepackGraph.b(i));
            repackOut[i] = cNames.allocateFrom(RepackGraph.out(i));
        }
        repackIndex = new MemorySegment[RepackGraph.INDEX_INPUTS.length];
        for (int i = 0; i < repackIndex.length; i++) {
            repackIndex[i] = cNames.allocateFrom(RepackGraph.INDEX_INPUTS[i]);
        }

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
            MemorySegment options = sessionOptions(engine, false);
            try {
                session = ort.createSession(env, manifest.file(names.file()).toString(), options);
                undo.add(() -> ort.releaseSession(session));
            } finally {
                ort.releaseSessionOptions(options);
            }
            // Its own options: TensorRT would build (and, as lengths grow, rebuild) an engine for these few
            // copies, with the decoder's shape profiles; CUDA runs them as they are.
            MemorySegment repackOptions = sessionOptions(engine, true);
            try {
                repackSession = ort.createSession(env, RepackGraph.model(kvType, 2 * layers), repackOptions);
                undo.add(() -> ort.releaseSession(repackSession));
            } finally {
                ort.releaseSessionOptions(repackOptions);
            }
            runOptions = ort.createRunOptions();
        } catch (RuntimeException e) {
            for (int i = undo.size() - 1; i >= 0; i--) {
                undo.get(i).run();
            }
            cNames.close();
            throw e;
        }
    }

    private MemorySegment sessionOptions(EngineOptions engine, boolean repack) {
        if (!provider.equals("cpu")) {
            extractProviderLibraries(engine);
        }
        MemorySegment o = ort.createSessionOptions();
        try {
            ort.setThreads(o, repack ? 1 : engine.intraOpThreads(), repack ? 1 : engine.interOpThreads());
            if (!engine.spinWait()) {
                ort.addConfigEntry(o, "session.intra_op.allow_spinning", "0");
                ort.addConfigEntry(o, "session.inter_op.allow_spinning", "0");
            }
            Map<String, String> device = new LinkedHashMap<>();
            device.put("device_id", Integer.toString(engine.deviceId()));
            if (provider.equals("tensorrt") && !repack) {
                Map<String, String> trt = new LinkedHashMap<>(device);
                trt.putAll(engine.tensorRtOptions());
                ort.appendTensorRt(o, trt);
            }
            if (!provider.equals("cpu")) {
                if (repack) {
                    device.put("arena_extend_strategy", "kSameAsRequested");
                }
                ort.appendCuda(o, device);
            }
            return o;
        } catch (RuntimeException e) {
            ort.releaseSessionOptions(o);
            throw new IllegalStateException("ONNX Runtime refused the " + provider + " provider for the decoder: "
                    + e.getMessage(), e);
        }
    }

    /**
     * ONNX Runtime's Java binding unpacks the CUDA and TensorRT provider libraries beside the core library only
     * when its own session options add those providers; the C API then finds them there. Adding them to a
     * throw-away Java options object does that, whatever else was loaded before.
     */
    private void extractProviderLibraries(EngineOptions engine) {
        try (ai.onnxruntime.OrtSession.SessionOptions o = new ai.onnxruntime.OrtSession.SessionOptions()) {
            if (provider.equals("tensorrt")) {
                o.addTensorrt(engine.deviceId());
            }
            o.addCUDA(engine.deviceId());
        } catch (ai.onnxruntime.OrtException e) {
            throw new IllegalStateException("ONNX Runtime refused the " + provider + " provider (is ONNX Runtime's "
                    + "GPU jar, onnxruntime_gpu, on the class path, with CUDA and cuDNN?): " + e.getMessage(), e);
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

    /** Where a cache's tensors live: {@code Cpu} or {@code Cuda}; for tests. */
    String kvMemoryName(Kv kv) {
        return ort.memoryName(((BoundKv) kv).keys[0]);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        ort.releaseRunOptions(runOptions);
        ort.releaseSession(repackSession);
        ort.releaseSession(session);
        if (kvMemory != cpu) {
            ort.releaseMemoryInfo(kvMemory);
        }
        ort.releaseMemoryInfo(cpu);
        ort.releaseEnv(env);
        cNames.close();
    }

    /** Every layer's key and value as ONNX Runtime values in the provider's memory. */
    private final class BoundKv implements Kv {
        final MemorySegment[] keys;
        final MemorySegment[] values;
        final int rows;
        final int length;
        final AtomicInteger live;
        boolean released;

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
            if (released) {
                return;
            }
            released = true;
            for (int l = 0; l < keys.length; l++) {
                ort.releaseValue(keys[l]);
                ort.releaseValue(values[l]);
            }
            live.addAndGet(-(keys.length + values.length));
        }
    }

    /**
     * One call's native resources: host memory for its inputs, the values over it, the binding. Closing releases
     * the values and the binding before the memory they point into.
     */
    private final class Call implements AutoCloseable {
        final Arena arena = Arena.ofConfined();
        final List<MemorySegment> values = new ArrayList<>();
        final MemorySegment binding;

        Call(MemorySegment session) {
            MemorySegment b;
            try {
                b = ort.createIoBinding(session);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
            binding = b;
        }

        MemorySegment tensor(MemorySegment data, long[] shape, int type) {
            MemorySegment v = ort.tensorOver(cpu, data, shape, type);
            values.add(v);
            return v;
        }

        MemorySegment longs(long... data) {
            return tensor(data.length == 0 ? arena.allocate(8) : arena.allocateFrom(JAVA_LONG, data),
                    new long[] {data.length}, OrtApi.ELEMENT_INT64);
        }

        /** The outputs as bound, each the caller's; all released if their number is not {@code expected}. */
        MemorySegment[] outputs(int expected) {
            MemorySegment[] out = ort.boundOutputs(binding, allocator);
            if (out.length != expected) {
                for (MemorySegment o : out) {
                    ort.releaseValue(o);
                }
                throw new IllegalStateException("ONNX Runtime gave " + out.length + " bound outputs, expected "
                        + expected);
            }
            return out;
        }

        @Override
        public void close() {
            try {
                for (MemorySegment v : values) {
                    ort.releaseValue(v);
                }
                ort.releaseIoBinding(binding);
            } finally {
                arena.close();
            }
        }
    }

    private final class BoundStepper implements Stepper {
        /** Values of this stepper's caches not yet released. */
        private final AtomicInteger live = new AtomicInteger();

        @Override
        public Step run(float[] embeds, long[] mask, long[] positions, int rows, int t, Kv past) {
            int layers = spec.numLayers();
            int pastLength = past == null ? 0 : past.length();
            MemorySegment[] outputs = null;
            try (Call c = new Call(session)) {
                ort.bindInput(c.binding, inputsEmbeds, c.tensor(floats(c.arena, embeds, embedsType),
                        new long[] {rows, t, spec.hiddenSize()}, embedsType));
                ort.bindInput(c.binding, attentionMask, c.tensor(c.arena.allocateFrom(JAVA_LONG, mask),
                        new long[] {rows, pastLength + t}, OrtApi.ELEMENT_INT64));
                ort.bindInput(c.binding, positionIds, c.tensor(c.arena.allocateFrom(JAVA_LONG, positions),
                        new long[] {rows, t}, OrtApi.ELEMENT_INT64));
                if (past == null) {
                    // a zero-length past holds no bytes, so one value serves every layer
                    MemorySegment empty = c.tensor(c.arena.allocate(8),
                            new long[] {rows, spec.numKvHeads(), 0, spec.headDim()}, kvType);
                    for (int l = 0; l < layers; l++) {
                        ort.bindInput(c.binding, pastKeys[l], empty);
                        ort.bindInput(c.binding, pastValues[l], empty);
                    }
                } else {
                    BoundKv kv = (BoundKv) past;
                    for (int l = 0; l < layers; l++) {
                        ort.bindInput(c.binding, pastKeys[l], kv.keys[l]);
                        ort.bindInput(c.binding, pastValues[l], kv.values[l]);
                    }
                }
                ort.bindOutputToDevice(c.binding, logits, cpu);
                for (int l = 0; l < layers; l++) {
                    ort.bindOutputToDevice(c.binding, presentKeys[l], kvMemory);
                    ort.bindOutputToDevice(c.binding, presentValues[l], kvMemory);
                }
                ort.runWithBinding(session, runOptions, c.binding);
                outputs = c.outputs(1 + 2 * layers);
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
            }
        }

        private void checkKv(MemorySegment present, int rows, int length) {
            OrtApi.Shape s = ort.shape(present);
            long[] want = {rows, spec.numKvHeads(), length, spec.headDim()};
            if (!Arrays.equals(s.dims(), want) || s.elementType() != kvType) {
                throw new IllegalStateException("the decoder's present tensor is " + Arrays.toString(s.dims())
                        + " of ONNX type " + s.elementType() + ", model.json says " + Arrays.toString(want)
                        + " of type " + kvType + " (its language_model section does not match the graph)");
            }
        }

        @Override
        public Kv repack(Kv a, int[] startOfA, int[] rowsOfA, Kv b, int[] startOfB, int[] rowsOfB, int length) {
            BoundKv ka = rowsOfA.length == 0 ? null : (BoundKv) a;
            BoundKv kb = rowsOfB.length == 0 ? null : (BoundKv) b;
            int layers = spec.numLayers();
            int rows = rowsOfA.length + rowsOfB.length;
            MemorySegment[] outputs = null;
            try (Call c = new Call(repackSession)) {
                // A side without rows still needs a tensor its column map can index: one column, no rows.
                MemorySegment none = c.tensor(c.arena.allocate(8), new long[] {0, spec.numKvHeads(), 1, spec.headDim()},
                        kvType);
                for (int l = 0; l < layers; l++) {
                    ort.bindInput(c.binding, repackA[2 * l], ka == null ? none : ka.keys[l]);
                    ort.bindInput(c.binding, repackA[2 * l + 1], ka == null ? none : ka.values[l]);
                    ort.bindInput(c.binding, repackB[2 * l], kb == null ? none : kb.keys[l]);
                    ort.bindInput(c.binding, repackB[2 * l + 1], kb == null ? none : kb.values[l]);
                }
                MemorySegment[] index = {c.longs(toLongs(rowsOfA)),
                    c.longs(RepackGraph.columns(ka == null ? 1 : ka.length, length)),
                    c.longs(toLongs(rowsOfB)), c.longs(RepackGraph.columns(kb == null ? 1 : kb.length, length))};
                for (int i = 0; i < index.length; i++) {
                    ort.bindInput(c.binding, repackIndex[i], index[i]);
                }
                for (MemorySegment out : repackOut) {
                    ort.bindOutputToDevice(c.binding, out, kvMemory);
                }
                ort.runWithBinding(repackSession, runOptions, c.binding);
                outputs = c.outputs(2 * layers);
                checkKv(outputs[0], rows, length);
                MemorySegment[] k = new MemorySegment[layers];
                MemorySegment[] v = new MemorySegment[layers];
                for (int l = 0; l < layers; l++) {
                    k[l] = outputs[2 * l];
                    v[l] = outputs[2 * l + 1];
                }
                outputs = null;
                return new BoundKv(k, v, rows, length, live);
            } finally {
                if (outputs != null) {
                    for (MemorySegment o : outputs) {
                        ort.releaseValue(o);
                    }
                }
            }
        }

        private static long[] toLongs(int[] values) {
            long[] out = new long[values.length];
            for (int i = 0; i < values.length; i++) {
                out[i] = values[i];
            }
            return out;
        }

        @Override
        public int liveTensors() {
            return live.get();
        }

        @Override
        public void close() {
            // caches are the generator's to close; the sessions are the decoder's
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
        int type = s.elementType();
        if (type != OrtApi.ELEMENT_FLOAT && type != OrtApi.ELEMENT_FLOAT16 && type != OrtApi.ELEMENT_BFLOAT16) {
            throw new IllegalStateException("the decoder's logits are of ONNX type " + type
                    + "; expected float32, float16 or bfloat16");
        }
        int n = Math.toIntExact(s.count());
        MemorySegment data = ort.data(value).reinterpret((long) n * (type == OrtApi.ELEMENT_FLOAT ? 4 : 2));
        if (type == OrtApi.ELEMENT_FLOAT) {
            return data.toArray(JAVA_FLOAT);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            short h = data.getAtIndex(JAVA_SHORT, i);
            out[i] = type == OrtApi.ELEMENT_FLOAT16 ? TensorBytes.fromHalf(h) : Float.intBitsToFloat((h & 0xFFFF) << 16);
        }
        return out;
    }
}
