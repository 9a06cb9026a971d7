package dev.mgmstream.pipeline.stage;

import java.util.function.Predicate;

/** Sorting failures by what caused them: clients wrap the exception that tells, often more than once. */
final class Causes {

    private Causes() {
    }

    /** Whether {@code e} or anything in its cause chain matches. */
    static boolean any(Throwable e, Predicate<Throwable> matches) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (matches.test(t)) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }
}
