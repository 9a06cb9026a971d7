package dev.mgmstream.pipeline.metrics;

/**
 * What a part of the process says about itself to Kubernetes' probes.
 *
 * @param live   false when only a restart helps (the stage failed or is wedged): the liveness probe fails
 * @param ready  true when it does its work (joined its group, models loaded, no batch overrunning)
 * @param detail a few words for whoever looks at the probe's answer
 */
public record Health(boolean live, boolean ready, String detail) {

    /** Something that can be asked; called from the HTTP server's thread, so it must be cheap and thread-safe. */
    @FunctionalInterface
    public interface Check {
        Health health();
    }
}
