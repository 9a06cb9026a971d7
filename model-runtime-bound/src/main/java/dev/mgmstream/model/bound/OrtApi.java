package dev.mgmstream.model.bound;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The part of ONNX Runtime's C API ({@code OrtApi}, onnxruntime_c_api.h) the bound decoder calls, through Java's
 * foreign-function API. The Java binding ({@code ai.onnxruntime}) has no I/O binding (microsoft/onnxruntime#26209),
 * but it loads the native library into this class loader, so the C API is reached in the same library.
 *
 * <p>{@code OrtApi} is a table of function pointers that only ever grows at its end; the indices below are
 * positions in it (API version 21, ONNX Runtime 1.21), checked in {@code OrtApiTest} by calling each function.
 * Every function that returns an {@code OrtStatus*} is checked: non-null is an error, thrown as
 * {@link OrtFailure} with ONNX Runtime's message.
 */
final class OrtApi {

    /** The API version requested: any library from 1.16 on serves it. */
    static final int API_VERSION = 16;

    // OrtApi member positions
    private static final int GET_ERROR_MESSAGE = 2;
    private static final int CREATE_ENV = 3;
    private static final int CREATE_SESSION = 7;
    private static final int CREATE_SESSION_FROM_ARRAY = 8;
    private static final int CREATE_SESSION_OPTIONS = 10;
    private static final int SET_INTRA_OP_NUM_THREADS = 24;
    private static final int SET_INTER_OP_NUM_THREADS = 25;
    private static final int CREATE_RUN_OPTIONS = 39;
    private static final int CREATE_TENSOR_AS_ORT_VALUE = 48;
    private static final int CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE = 49;
    private static final int GET_TENSOR_MUTABLE_DATA = 51;
    private static final int GET_TENSOR_ELEMENT_TYPE = 60;
    private static final int GET_DIMENSIONS_COUNT = 61;
    private static final int GET_DIMENSIONS = 62;
    private static final int GET_TENSOR_TYPE_AND_SHAPE = 65;
    private static final int CREATE_MEMORY_INFO = 68;
    private static final int CREATE_CPU_MEMORY_INFO = 69;
    private static final int MEMORY_INFO_GET_NAME = 71;
    private static final int ALLOCATOR_FREE = 76;
    private static final int GET_ALLOCATOR_WITH_DEFAULT_OPTIONS = 78;
    private static final int RELEASE_ENV = 92;
    private static final int RELEASE_STATUS = 93;
    private static final int RELEASE_MEMORY_INFO = 94;
    private static final int RELEASE_SESSION = 95;
    private static final int RELEASE_VALUE = 96;
    private static final int RELEASE_RUN_OPTIONS = 97;
    private static final int RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99;
    private static final int RELEASE_SESSION_OPTIONS = 100;
    private static final int ADD_SESSION_CONFIG_ENTRY = 130;
    private static final int RUN_WITH_BINDING = 133;
    private static final int CREATE_IO_BINDING = 134;
    private static final int RELEASE_IO_BINDING = 135;
    private static final int BIND_INPUT = 136;
    private static final int BIND_OUTPUT_TO_DEVICE = 138;
    private static final int GET_BOUND_OUTPUT_VALUES = 140;
    private static final int GET_TENSOR_MEMORY_INFO = 194;
    private static final int APPEND_TENSORRT_V2 = 170;
    private static final int CREATE_TENSORRT_OPTIONS = 171;
    private static final int UPDATE_TENSORRT_OPTIONS = 172;
    private static final int RELEASE_TENSORRT_OPTIONS = 174;
    private static final int APPEND_CUDA_V2 = 204;
    private static final int CREATE_CUDA_OPTIONS = 205;
    private static final int UPDATE_CUDA_OPTIONS = 206;
    private static final int RELEASE_CUDA_OPTIONS = 208;

    // enums of the C API
    static final int LOGGING_LEVEL_WARNING = 2;
    static final int DEVICE_ALLOCATOR = 0;
    static final int ARENA_ALLOCATOR = 1;
    static final int MEM_TYPE_DEFAULT = 0;
    static final int ELEMENT_FLOAT = 1;
    static final int ELEMENT_INT64 = 7;
    static final int ELEMENT_FLOAT16 = 10;
    static final int ELEMENT_BFLOAT16 = 16;

    private static final FunctionDescriptor STATUS_P = FunctionDescriptor.of(ADDRESS, ADDRESS);
    private static final FunctionDescriptor STATUS_PP = FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS);
    private static final FunctionDescriptor STATUS_PPP = FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    private static final FunctionDescriptor STATUS_PPPP =
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    private static final FunctionDescriptor VOID_P = FunctionDescriptor.ofVoid(ADDRESS);

    private static volatile OrtApi instance;

    private final MethodHandle getErrorMessage;
    private final MethodHandle releaseStatus;
    private final MethodHandle createEnv;
    private final MethodHandle createSession;
    private final MethodHandle createSessionFromArray;
    private final MethodHandle createSessionOptions;
    private final MethodHandle setIntraOpNumThreads;
    private final MethodHandle setInterOpNumThreads;
    private final MethodHandle addSessionConfigEntry;
    private final MethodHandle createRunOptions;
    private final MethodHandle createTensorAsOrtValue;
    private final MethodHandle createTensorWithData;
    private final MethodHandle getTensorMutableData;
    private final MethodHandle getTensorTypeAndShape;
    private final MethodHandle getTensorElementType;
    private final MethodHandle getDimensionsCount;
    private final MethodHandle getDimensions;
    private final MethodHandle getTensorMemoryInfo;
    private final MethodHandle memoryInfoGetName;
    private final MethodHandle createMemoryInfo;
    private final MethodHandle createCpuMemoryInfo;
    private final MethodHandle allocatorFree;
    private final MethodHandle getAllocator;
    private final MethodHandle createIoBinding;
    private final MethodHandle bindInput;
    private final MethodHandle bindOutputToDevice;
    private final MethodHandle runWithBinding;
    private final MethodHandle getBoundOutputValues;
    private final MethodHandle createCudaOptions;
    private final MethodHandle updateCudaOptions;
    private final MethodHandle appendCuda;
    private final MethodHandle releaseCudaOptions;
    private final MethodHandle createTrtOptions;
    private final MethodHandle updateTrtOptions;
    private final MethodHandle appendTrt;
    private final MethodHandle releaseTrtOptions;
    private final MethodHandle releaseEnv;
    private final MethodHandle releaseMemoryInfo;
    private final MethodHandle releaseSession;
    private final MethodHandle releaseValue;
    private final MethodHandle releaseRunOptions;
    private final MethodHandle releaseTypeAndShape;
    private final MethodHandle releaseSessionOptions;
    private final MethodHandle releaseIoBinding;

    private OrtApi(MemorySegment table) {
        Linker linker = Linker.nativeLinker();
        MemorySegment api = table.reinterpret(8L * 285);
        Handles h = (index, fd) -> linker.downcallHandle(api.getAtIndex(ADDRESS, index), fd);
        getErrorMessage = h.of(GET_ERROR_MESSAGE, FunctionDescriptor.of(ADDRESS, ADDRESS));
        releaseStatus = h.of(RELEASE_STATUS, VOID_P);
        createEnv = h.of(CREATE_ENV, FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        createSession = h.of(CREATE_SESSION, STATUS_PPPP);
        createSessionFromArray = h.of(CREATE_SESSION_FROM_ARRAY,
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
        createSessionOptions = h.of(CREATE_SESSION_OPTIONS, STATUS_P);
        setIntraOpNumThreads = h.of(SET_INTRA_OP_NUM_THREADS, FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        setInterOpNumThreads = h.of(SET_INTER_OP_NUM_THREADS, FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        addSessionConfigEntry = h.of(ADD_SESSION_CONFIG_ENTRY, STATUS_PPP);
        createRunOptions = h.of(CREATE_RUN_OPTIONS, STATUS_P);
        createTensorAsOrtValue = h.of(CREATE_TENSOR_AS_ORT_VALUE,
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
        createTensorWithData = h.of(CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE,
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
        getTensorMutableData = h.of(GET_TENSOR_MUTABLE_DATA, STATUS_PP);
        getTensorTypeAndShape = h.of(GET_TENSOR_TYPE_AND_SHAPE, STATUS_PP);
        getTensorElementType = h.of(GET_TENSOR_ELEMENT_TYPE, STATUS_PP);
        getDimensionsCount = h.of(GET_DIMENSIONS_COUNT, STATUS_PP);
        getDimensions = h.of(GET_DIMENSIONS, FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        getTensorMemoryInfo = h.of(GET_TENSOR_MEMORY_INFO, STATUS_PP);
        memoryInfoGetName = h.of(MEMORY_INFO_GET_NAME, STATUS_PP);
        createMemoryInfo = h.of(CREATE_MEMORY_INFO,
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        createCpuMemoryInfo = h.of(CREATE_CPU_MEMORY_INFO, FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        allocatorFree = h.of(ALLOCATOR_FREE, STATUS_PP);
        getAllocator = h.of(GET_ALLOCATOR_WITH_DEFAULT_OPTIONS, STATUS_P);
        createIoBinding = h.of(CREATE_IO_BINDING, STATUS_PP);
        bindInput = h.of(BIND_INPUT, STATUS_PPP);
        bindOutputToDevice = h.of(BIND_OUTPUT_TO_DEVICE, STATUS_PPP);
        runWithBinding = h.of(RUN_WITH_BINDING, STATUS_PPP);
        getBoundOutputValues = h.of(GET_BOUND_OUTPUT_VALUES, STATUS_PPPP);
        createCudaOptions = h.of(CREATE_CUDA_OPTIONS, STATUS_P);
        updateCudaOptions = h.of(UPDATE_CUDA_OPTIONS,
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        appendCuda = h.of(APPEND_CUDA_V2, STATUS_PP);
        releaseCudaOptions = h.of(RELEASE_CUDA_OPTIONS, VOID_P);
        createTrtOptions = h.of(CREATE_TENSORRT_OPTIONS, STATUS_P);
        updateTrtOptions = h.of(UPDATE_TENSORRT_OPTIONS,
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        appendTrt = h.of(APPEND_TENSORRT_V2, STATUS_PP);
        releaseTrtOptions = h.of(RELEASE_TENSORRT_OPTIONS, VOID_P);
        releaseEnv = h.of(RELEASE_ENV, VOID_P);
        releaseMemoryInfo = h.of(RELEASE_MEMORY_INFO, VOID_P);
        releaseSession = h.of(RELEASE_SESSION, VOID_P);
        releaseValue = h.of(RELEASE_VALUE, VOID_P);
        releaseRunOptions = h.of(RELEASE_RUN_OPTIONS, VOID_P);
        releaseTypeAndShape = h.of(RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, VOID_P);
        releaseSessionOptions = h.of(RELEASE_SESSION_OPTIONS, VOID_P);
        releaseIoBinding = h.of(RELEASE_IO_BINDING, VOID_P);
    }

    @FunctionalInterface
    private interface Handles {
        MethodHandle of(int index, FunctionDescriptor fd);
    }

    /** The C API of the ONNX Runtime library the Java binding loaded (loading it first if need be). */
    static OrtApi get() {
        OrtApi api = instance;
        if (api == null) {
            synchronized (OrtApi.class) {
                api = instance;
                if (api == null) {
                    instance = api = load();
                }
            }
        }
        return api;
    }

    private static OrtApi load() {
        ai.onnxruntime.OrtEnvironment.getEnvironment();   // loads libonnxruntime into this class loader
        MemorySegment getApiBase = SymbolLookup.loaderLookup().find("OrtGetApiBase").orElseThrow(() ->
                new IllegalStateException("OrtGetApiBase not found: ONNX Runtime's library was not loaded by this "
                        + "class loader"));
        Linker linker = Linker.nativeLinker();
        try {
            MemorySegment base = ((MemorySegment) linker.downcallHandle(getApiBase, FunctionDescriptor.of(ADDRESS))
                    .invokeExact()).reinterpret(16);
            MemorySegment table = (MemorySegment) linker.downcallHandle(base.get(ADDRESS, 0),
                    FunctionDescriptor.of(ADDRESS, JAVA_INT)).invokeExact(API_VERSION);
            if (table.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("ONNX Runtime's library does not serve C API version " + API_VERSION);
            }
            return new OrtApi(table);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** An error status of a C API call, with ONNX Runtime's message. */
    static final class OrtFailure extends IllegalStateException {
        OrtFailure(String call, String message) {
            super("ONNX Runtime " + call + ": " + message);
        }
    }

    private void check(MemorySegment status, String call) throws Throwable {
        if (!status.equals(MemorySegment.NULL)) {
            MemorySegment msg = (MemorySegment) getErrorMessage.invokeExact(status);
            String text = msg.reinterpret(Integer.MAX_VALUE).getString(0);
            releaseStatus.invokeExact(status);
            throw new OrtFailure(call, text);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** Calls a function whose last argument is an out-pointer and returns what it wrote there. */
    private MemorySegment out(String call, OutCall c) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(c.call(p), call);
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @FunctionalInterface
    private interface OutCall {
        MemorySegment call(MemorySegment out) throws Throwable;
    }

    @FunctionalInterface
    private interface Call {
        MemorySegment call() throws Throwable;
    }

    private void run(String call, Call c) {
        try {
            check(c.call(), call);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void release(MethodHandle h, MemorySegment p) {
        if (p != null && !p.equals(MemorySegment.NULL)) {
            try {
                h.invokeExact(p);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
    }

    // ---- environment, sessions

    MemorySegment createEnv(String logId) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocateFrom(logId);
            return out("CreateEnv", p -> (MemorySegment) createEnv.invokeExact(LOGGING_LEVEL_WARNING, id, p));
        }
    }

    MemorySegment createSessionOptions() {
        return out("CreateSessionOptions", p -> (MemorySegment) createSessionOptions.invokeExact(p));
    }

    void setThreads(MemorySegment options, int intra, int inter) {
        if (intra > 0) {
            run("SetIntraOpNumThreads", () -> (MemorySegment) setIntraOpNumThreads.invokeExact(options, intra));
        }
        if (inter > 0) {
            run("SetInterOpNumThreads", () -> (MemorySegment) setInterOpNumThreads.invokeExact(options, inter));
        }
    }

    void addConfigEntry(MemorySegment options, String key, String value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment k = a.allocateFrom(key);
            MemorySegment v = a.allocateFrom(value);
            run("AddSessionConfigEntry", () -> (MemorySegment) addSessionConfigEntry.invokeExact(options, k, v));
        }
    }

    /** Appends the CUDA provider with its options ({@code device_id} among them). */
    void appendCuda(MemorySegment options, java.util.Map<String, String> settings) {
        appendProvider("CUDA", createCudaOptions, updateCudaOptions, appendCuda, releaseCudaOptions, options, settings);
    }

    /** Appends the TensorRT provider with its options. */
    void appendTensorRt(MemorySegment options, java.util.Map<String, String> settings) {
        appendProvider("TensorRT", createTrtOptions, updateTrtOptions, appendTrt, releaseTrtOptions, options, settings);
    }

    /** The V2 provider-options dance, the same for CUDA and TensorRT: create, update by key, append, release. */
    private void appendProvider(String name, MethodHandle create, MethodHandle update, MethodHandle append,
                                MethodHandle releaseOptions, MemorySegment options, java.util.Map<String, String> settings) {
        MemorySegment p = out("Create" + name + "ProviderOptions", o -> (MemorySegment) create.invokeExact(o));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment[] kv = keysAndValues(a, settings);
            long n = settings.size();
            run("Update" + name + "ProviderOptions", () -> (MemorySegment) update.invokeExact(p, kv[0], kv[1], n));
            run("SessionOptionsAppendExecutionProvider_" + name + "_V2",
                    () -> (MemorySegment) append.invokeExact(options, p));
        } finally {
            release(releaseOptions, p);
        }
    }

    private static MemorySegment[] keysAndValues(Arena a, java.util.Map<String, String> settings) {
        MemorySegment keys = a.allocate(ADDRESS, Math.max(1, settings.size()));
        MemorySegment values = a.allocate(ADDRESS, Math.max(1, settings.size()));
        int i = 0;
        for (var e : settings.entrySet()) {
            keys.setAtIndex(ADDRESS, i, a.allocateFrom(e.getKey()));
            values.setAtIndex(ADDRESS, i, a.allocateFrom(e.getValue()));
            i++;
        }
        return new MemorySegment[] {keys, values};
    }

    MemorySegment createSession(MemorySegment env, String path, MemorySegment options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment file = a.allocateFrom(path);
            return out("CreateSession", p -> (MemorySegment) createSession.invokeExact(env, file, options, p));
        }
    }

    MemorySegment createSession(MemorySegment env, byte[] model, MemorySegment options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bytes = a.allocate(model.length);
            MemorySegment.copy(model, 0, bytes, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, model.length);
            long n = model.length;
            return out("CreateSessionFromArray",
                    p -> (MemorySegment) createSessionFromArray.invokeExact(env, bytes, n, options, p));
        }
    }

    MemorySegment createRunOptions() {
        return out("CreateRunOptions", p -> (MemorySegment) createRunOptions.invokeExact(p));
    }

    // ---- memory and values

    MemorySegment createCpuMemoryInfo() {
        return out("CreateCpuMemoryInfo",
                p -> (MemorySegment) createCpuMemoryInfo.invokeExact(ARENA_ALLOCATOR, MEM_TYPE_DEFAULT, p));
    }

    /** Memory of a provider's device, e.g. {@code Cuda} and the GPU ordinal. */
    MemorySegment createMemoryInfo(String name, int deviceId) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocateFrom(name);
            return out("CreateMemoryInfo", p -> (MemorySegment) createMemoryInfo.invokeExact(n, DEVICE_ALLOCATOR,
                    deviceId, MEM_TYPE_DEFAULT, p));
        }
    }

    MemorySegment defaultAllocator() {
        return out("GetAllocatorWithDefaultOptions", p -> (MemorySegment) getAllocator.invokeExact(p));
    }

    /** A tensor over memory the caller owns and keeps alive while the value is used; CPU memory info. */
    MemorySegment tensorOver(MemorySegment cpuInfo, MemorySegment data, long[] shape, int elementType) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dims = a.allocateFrom(JAVA_LONG, shape);
            long bytes = data.byteSize();
            long rank = shape.length;
            return out("CreateTensorWithDataAsOrtValue", p -> (MemorySegment) createTensorWithData.invokeExact(
                    cpuInfo, data, bytes, dims, rank, elementType, p));
        }
    }

    /** A tensor ONNX Runtime allocates in host memory (its contents undefined). */
    MemorySegment allocateTensor(MemorySegment allocator, long[] shape, int elementType) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dims = a.allocateFrom(JAVA_LONG, shape);
            long rank = shape.length;
            return out("CreateTensorAsOrtValue",
                    p -> (MemorySegment) createTensorAsOrtValue.invokeExact(allocator, dims, rank, elementType, p));
        }
    }

    /** The tensor's data; host memory only, a device pointer is not to be read. */
    MemorySegment data(MemorySegment value) {
        return out("GetTensorMutableData", p -> (MemorySegment) getTensorMutableData.invokeExact(value, p));
    }

    /** The element type and the dimensions of a tensor value. */
    record Shape(int elementType, long[] dims) {
        long count() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }
    }

    Shape shape(MemorySegment value) {
        MemorySegment info = out("GetTensorTypeAndShape", p -> (MemorySegment) getTensorTypeAndShape.invokeExact(value, p));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment type = a.allocate(JAVA_INT);
            run("GetTensorElementType", () -> (MemorySegment) getTensorElementType.invokeExact(info, type));
            MemorySegment count = a.allocate(JAVA_LONG);
            run("GetDimensionsCount", () -> (MemorySegment) getDimensionsCount.invokeExact(info, count));
            long rank = count.get(JAVA_LONG, 0);
            MemorySegment dims = a.allocate(JAVA_LONG, Math.max(1, rank));
            run("GetDimensions", () -> (MemorySegment) getDimensions.invokeExact(info, dims, rank));
            return new Shape(type.get(JAVA_INT, 0), dims.asSlice(0, rank * 8).toArray(JAVA_LONG));
        } finally {
            release(releaseTypeAndShape, info);
        }
    }

    /** The name of the memory a value lives in: {@code Cpu}, {@code Cuda}, ... */
    String memoryName(MemorySegment value) {
        MemorySegment info = out("GetTensorMemoryInfo", p -> (MemorySegment) getTensorMemoryInfo.invokeExact(value, p));
        MemorySegment name = out("MemoryInfoGetName", p -> (MemorySegment) memoryInfoGetName.invokeExact(info, p));
        return name.reinterpret(256).getString(0);
    }

    // ---- I/O binding

    MemorySegment createIoBinding(MemorySegment session) {
        return out("CreateIoBinding", p -> (MemorySegment) createIoBinding.invokeExact(session, p));
    }

    void bindInput(MemorySegment binding, MemorySegment name, MemorySegment value) {
        run("BindInput", () -> (MemorySegment) bindInput.invokeExact(binding, name, value));
    }

    void bindOutputToDevice(MemorySegment binding, MemorySegment name, MemorySegment memoryInfo) {
        run("BindOutputToDevice", () -> (MemorySegment) bindOutputToDevice.invokeExact(binding, name, memoryInfo));
    }

    void runWithBinding(MemorySegment session, MemorySegment runOptions, MemorySegment binding) {
        run("RunWithBinding", () -> (MemorySegment) runWithBinding.invokeExact(session, runOptions, binding));
    }

    /** The bound outputs in the order they were bound; each value is the caller's to release. */
    MemorySegment[] boundOutputs(MemorySegment binding, MemorySegment allocator) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment array = a.allocate(ADDRESS);
            MemorySegment count = a.allocate(JAVA_LONG);
            run("GetBoundOutputValues",
                    () -> (MemorySegment) getBoundOutputValues.invokeExact(binding, allocator, array, count));
            long n = count.get(JAVA_LONG, 0);
            MemorySegment values = array.get(ADDRESS, 0).reinterpret(8 * n);
            MemorySegment[] out = new MemorySegment[(int) n];
            for (int i = 0; i < n; i++) {
                out[i] = values.getAtIndex(ADDRESS, i);
            }
            MemorySegment block = array.get(ADDRESS, 0);
            try {
                run("AllocatorFree", () -> (MemorySegment) allocatorFree.invokeExact(allocator, block));
            } catch (RuntimeException e) {
                for (MemorySegment v : out) {
                    release(releaseValue, v);
                }
                throw e;
            }
            return out;
        }
    }

    // ---- release

    void releaseEnv(MemorySegment p) {
        release(releaseEnv, p);
    }

    void releaseMemoryInfo(MemorySegment p) {
        release(releaseMemoryInfo, p);
    }

    void releaseSession(MemorySegment p) {
        release(releaseSession, p);
    }

    void releaseValue(MemorySegment p) {
        release(releaseValue, p);
    }

    void releaseRunOptions(MemorySegment p) {
        release(releaseRunOptions, p);
    }

    void releaseSessionOptions(MemorySegment p) {
        release(releaseSessionOptions, p);
    }

    void releaseIoBinding(MemorySegment p) {
        release(releaseIoBinding, p);
    }
}
