package dev.mgmstream.pipeline.stage;

import java.util.Optional;

import dev.mgmstream.pipeline.metrics.MetricsServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a stage's {@code main} calls: runs the stage on the calling thread with a Prometheus endpoint
 * (when {@code metrics.port} is not -1); SIGTERM or SIGINT stops it as
 * {@code stage.inflight.on.shutdown} says, and this returns once the stage has closed (see
 * {@link TerminationSignals} for why not a shutdown hook).
 *
 * <pre>{@code
 * public static void main(String[] args) {
 *     StageSettings settings = StageSettings.resolve("encoders", LayeredConfig.parseFlags(args));
 *     System.exit(StageRunner.runUntilStopped(EncoderStage.definition(settings.config()), settings));
 * }
 * }</pre>
 */
public final class StageRunner {

    private static final Logger log = LoggerFactory.getLogger(StageRunner.class);

    private StageRunner() {
    }

    /** @return a process exit code: 0 after a requested stop, 1 after a failure */
    public static <K, V> int runUntilStopped(StageDefinition<K, V> definition, StageSettings settings) {
        return runUntilStopped(definition, settings, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    /**
     * As above, on a registry the caller made, so that a stage's own meters (registered on it before the
     * call) are served on the same endpoint as the runtime's.
     */
    public static <K, V> int runUntilStopped(StageDefinition<K, V> definition, StageSettings settings,
                                             PrometheusMeterRegistry registry) {
        Optional<MetricsServer> server = MetricsServer.start(registry, settings.metricsPort());
        server.ifPresent(s -> log.info("Stage {} metrics on http://localhost:{}/metrics", definition.name(), s.port()));
        Stage<K, V> stage = new Stage<>(definition, settings, registry);
        server.ifPresent(s -> s.health(definition.name(), stage::health));
        try (TerminationSignals signals = TerminationSignals.onSignal("stage " + definition.name(), stage::stop)) {
            stage.run();
        } finally {
            server.ifPresent(MetricsServer::close);
        }
        int code = stage.failure().isPresent() ? 1 : 0;
        if (!stage.workersStopped()) {
            // The caller would close the models next, under a thread still inside one: a native crash. The
            // transaction is settled and the group left; ending here is what a kill would do, minus the crash.
            log.error("Stage {}: a batch is still computing after the stop; exiting without closing its models",
                    definition.name());
            Runtime.getRuntime().halt(1);
        }
        return code;
    }
}
