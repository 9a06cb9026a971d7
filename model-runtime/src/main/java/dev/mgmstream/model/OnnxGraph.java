package dev.mgmstream.model;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoopTranslator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One ONNX graph loaded through DJL's ONNX Runtime engine. The model is long-lived and shared;
 * {@link #newPredictor()} gives each worker thread its own predictor, since predictors are not
 * thread-safe. Inputs are passed by name ({@code NDArray.setName}) so their order does not matter.
 */
public final class OnnxGraph implements AutoCloseable {

    private final Path file;
    private final Model model;

    private OnnxGraph(Path file, Model model) {
        this.file = file;
        this.model = model;
    }

    public static OnnxGraph load(Path file, EngineOptions options) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("ONNX graph not found: " + file);
        }
        String name = file.getFileName().toString().replaceFirst("\\.onnx$", "");
        Model model = Model.newInstance(name, options.device(), "OnnxRuntime");
        try {
            model.load(file, name, options.toLoadOptions());
            return new OnnxGraph(file, model);
        } catch (IOException e) {
            model.close();
            throw new UncheckedIOException("cannot read ONNX graph " + file, e);
        } catch (MalformedModelException e) {
            model.close();
            throw new IllegalStateException("cannot load ONNX graph " + file + ": " + e.getMessage(), e);
        }
    }

    public Predictor<NDList, NDList> newPredictor() {
        return model.newPredictor(new NoopTranslator());
    }

    /** Creates arrays that outlive a single call (the caller closes them). */
    public ai.djl.ndarray.NDManager manager() {
        return model.getNDManager();
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        model.close();
    }
}
