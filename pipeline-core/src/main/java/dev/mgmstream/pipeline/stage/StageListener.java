package dev.mgmstream.pipeline.stage;

/**
 * Observes a stage's commits, on its poll thread. Meant for progress reporting and for fault
 * injection in tests: an {@link Error} thrown from {@link #beforeCommit} leaves the transaction
 * open and the clients abandoned, exactly as if the process had died mid-commit.
 */
public interface StageListener {

    StageListener NONE = new StageListener() {
    };

    /** A batch's records and offsets are in its transaction, which is not yet committed. */
    default void beforeCommit(int inputs, int records) {
    }

    /** A batch's transaction committed. */
    default void afterCommit(int inputs, int records) {
    }
}
