package dev.mgmstream.model;

import ai.djl.Device;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.providers.OrtTensorRTProviderOptions;
import java.util.HashMap;
import java.util.Map;

/**
 * How ONNX Runtime runs the graphs: on the CPU by default; on NVIDIA GPUs through the CUDA provider,
 * or the TensorRT provider with fp16, an engine cache and optional shape profiles, CUDA taking the
 * nodes TensorRT cannot. Chosen by configuration alone; GPU providers need the onnxruntime_gpu jar
 * on the class path in place of the CPU one.
 *
 * @param provider {@code cpu}, {@code cuda} or {@code tensorrt}
 * @param deviceId the GPU ordinal for cuda and tensorrt
 * @param interOpThreads threads across graph nodes (0 = ONNX Runtime's default)
 * @param intraOpThreads threads inside a node (0 = ONNX Runtime's default)
 * @param trtCacheDir where TensorRT keeps built engines, so that a restart does not rebuild them
 * @param trtProfiles TensorRT shape profiles, e.g. {@code trt_profile_min_shapes -> pixel_values:1x3x96x96}
 * @param spinWait whether ONNX Runtime's idle pool threads spin between operators instead of sleeping.
 *                 Spinning shortens one session's latency when it has the cores to itself; with several
 *                 sessions sharing a few cores (a pipeline's stages in one process) the spinning threads
 *                 take the cores the working ones need.
 * @param ioBinding whether the language model's decoder keeps its KV cache in the provider's memory between
 *                  steps (ONNX Runtime's I/O binding, module model-runtime-bound, Java 22+) instead of handing it
 *                  to Java and back each step; on the CPU provider it runs the same path in host memory.
 */
public record EngineOptions(String provider, int deviceId, int interOpThreads, int intraOpThreads,
                            String trtCacheDir, Map<String, String> trtProfiles, boolean spinWait,
                            boolean ioBinding) {

    public static final EngineOptions CPU = new EngineOptions("cpu", 0, 0, 0, null, Map.of(), true);

    public EngineOptions(String provider, int deviceId, int interOpThreads, int intraOpThreads, String trtCacheDir,
                         Map<String, String> trtProfiles, boolean spinWait) {
        this(provider, deviceId, interOpThreads, intraOpThreads, trtCacheDir, trtProfiles, spinWait, false);
    }

    /** The same options with I/O binding of the decoder's cache on or off. */
    public EngineOptions withIoBinding(boolean on) {
        return new EngineOptions(provider, deviceId, interOpThreads, intraOpThreads, trtCacheDir, trtProfiles,
                spinWait, on);
    }

    public EngineOptions {
        if (!provider.equals("cpu") && !provider.equals("cuda") && !provider.equals("tensorrt")) {
            throw new IllegalArgumentException("engine provider must be cpu, cuda or tensorrt, got " + provider);
        }
        trtProfiles = trtProfiles == null ? Map.of() : Map.copyOf(trtProfiles);
    }

    /**
     * From configuration text, where an empty string means "not set": the engine cache folder and the
     * TensorRT shape profiles ({@code name:1x3x96x96,...}) are optional.
     */
    public static EngineOptions fromSettings(String provider, int deviceId, int interOpThreads, int intraOpThreads,
                                             String trtCacheDir, String minShapes, String optShapes,
                                             String maxShapes, boolean spinWait) {
        Map<String, String> profiles = new HashMap<>();
        if (!minShapes.isEmpty()) {
            profiles.put("trt_profile_min_shapes", minShapes);
        }
        if (!optShapes.isEmpty()) {
            profiles.put("trt_profile_opt_shapes", optShapes);
        }
        if (!maxShapes.isEmpty()) {
            profiles.put("trt_profile_max_shapes", maxShapes);
        }
        return new EngineOptions(provider, deviceId, interOpThreads, intraOpThreads,
                trtCacheDir.isEmpty() ? null : trtCacheDir, profiles, spinWait);
    }

    public static EngineOptions cpu(int intraOpThreads) {
        return new EngineOptions("cpu", 0, 1, intraOpThreads, null, Map.of(), true);
    }

    /** The TensorRT provider's options as ONNX Runtime names them: fp16, the engine cache, the shape profiles. */
    public Map<String, String> tensorRtOptions() {
        Map<String, String> o = new java.util.LinkedHashMap<>();
        o.put("trt_fp16_enable", "1");
        o.put("trt_engine_cache_enable", "1");
        if (trtCacheDir != null) {
            o.put("trt_engine_cache_path", trtCacheDir);
        }
        o.putAll(trtProfiles);
        return o;
    }

    Device device() {
        return provider.equals("cpu") ? Device.cpu() : Device.gpu(deviceId);
    }

    /** The options DJL's ONNX Runtime engine takes at load time, a ready SessionOptions among them. */
    Map<String, Object> toLoadOptions() {
        try {
            OrtSession.SessionOptions so = new OrtSession.SessionOptions();
            if (interOpThreads > 0) {
                so.setInterOpNumThreads(interOpThreads);
            }
            if (intraOpThreads > 0) {
                so.setIntraOpNumThreads(intraOpThreads);
            }
            if (!spinWait) {
                so.addConfigEntry("session.intra_op.allow_spinning", "0");
                so.addConfigEntry("session.inter_op.allow_spinning", "0");
            }
            if (provider.equals("tensorrt")) {
                OrtTensorRTProviderOptions trt = new OrtTensorRTProviderOptions(deviceId);
                for (Map.Entry<String, String> e : tensorRtOptions().entrySet()) {
                    trt.add(e.getKey(), e.getValue());
                }
                so.addTensorrt(trt);
                so.addCUDA(deviceId);
            } else if (provider.equals("cuda")) {
                so.addCUDA(deviceId);
            }
            Map<String, Object> o = new HashMap<>();
            o.put("sessionOptions", so);
            return o;
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime refused the " + provider + " provider: " + e.getMessage(), e);
        }
    }
}
