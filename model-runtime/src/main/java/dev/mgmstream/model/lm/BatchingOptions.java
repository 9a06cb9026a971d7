package dev.mgmstream.model.lm;

/**
 * How a {@link Generator} shares its decode steps between sequences.
 *
 * @param slots sequences decoded together at most (the rows of the KV cache)
 * @param mode {@link Mode#CONTINUOUS}: finished sequences leave and waiting ones take their slots between
 *             steps; {@link Mode#STATIC}: a group is admitted only when the previous one has wholly
 *             finished, so the longest answer holds the rest back (kept for comparison)
 * @param admitMinFree in continuous mode, admit only once this many slots are free (or the queue is
 *                     shorter). Every admission runs a prefill and re-packs the KV cache, which costs
 *                     about as much as several decode steps, so admitting one sequence at a time is
 *                     not always cheapest.
 */
public record BatchingOptions(int slots, Mode mode, int admitMinFree) {

    public enum Mode { CONTINUOUS, STATIC }

    public BatchingOptions {
        if (slots < 1) {
            throw new IllegalArgumentException("slots must be >= 1, was " + slots);
        }
        if (admitMinFree < 1) {
            throw new IllegalArgumentException("admitMinFree must be >= 1, was " + admitMinFree);
        }
    }

    public static BatchingOptions continuous(int slots) {
        return new BatchingOptions(slots, Mode.CONTINUOUS, Math.max(1, slots / 4));
    }

    public static BatchingOptions staticBatches(int slots) {
        return new BatchingOptions(slots, Mode.STATIC, 1);
    }
}
