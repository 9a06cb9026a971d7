package dev.mgmstream.model.lm;

import ai.djl.translate.TranslateException;

/**
 * Runs a decoder graph for {@link Generator} and owns the memory its KV cache lives in between steps.
 * The default ({@link DjlDecoder}) runs through DJL with the cache in host memory, which ONNX Runtime
 * copies to the provider and back on every step. {@code engine.io.binding} selects the implementation a
 * {@link DecoderBackendProvider} on the class path offers (module model-runtime-bound, Java 22+), which
 * binds the cache to the provider's memory with ONNX Runtime's I/O binding, so on a GPU it stays there.
 *
 * <p>The backend is shared by every worker thread of a model; each worker steps through its own
 * {@link Stepper}. A backend is closed only after every stepper made from it.
 */
public interface DecoderBackend extends AutoCloseable {

    /** A worker's own handle on the decoder: not thread-safe. */
    Stepper newStepper();

    /** What the backend is, for logs: e.g. {@code djl} or {@code io-binding(cuda)}. */
    String describe();

    @Override
    void close();

    /** The past keys and values of every layer, {@code (rows, kvHeads, length, headDim)}, in the backend's memory. */
    interface Kv extends AutoCloseable {
        int rows();

        int length();

        @Override
        void close();
    }

    /** A decoder call's result: the logits in host memory and the present cache, which the caller now owns. */
    record Step(float[] logits, Kv present) {}

    interface Stepper extends AutoCloseable {

        /**
         * One decoder call over {@code rows} sequences of {@code t} new positions each.
         *
         * @param embeds    {@code rows x t x hidden} input embeddings, rounded by the backend to the graph's type
         * @param mask      {@code rows x (past length + t)}, 1 on real positions
         * @param positions {@code rows x t}
         * @param past      the previous step's cache, or null for an empty one; it stays the caller's to close
         */
        Step run(float[] embeds, long[] mask, long[] positions, int rows, int t, Kv past) throws TranslateException;

        /**
         * A new cache of {@code length} positions holding the chosen rows of {@code a}, then those of {@code b}
         * (either may be null with no rows). Every row's live positions (from {@code start[row]} on) end up
         * right-aligned; {@code length} is at least each chosen row's live length. Positions left of a row's
         * live part are masked out, so their contents are free, but must be finite.
         */
        Kv repack(Kv a, int[] startOfA, int[] rowsOfA, Kv b, int[] startOfB, int[] rowsOfB, int length);

        /** Native tensors this stepper holds right now, caches included; zero between calls of the generator. */
        int liveTensors();

        @Override
        void close();
    }
}
