package dev.mgmstream.pipeline.stage;

import java.util.Optional;

import dev.mgmstream.pipeline.metrics.MetricsServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a stage's {@code main} calls: runs the stage on the calling thread with a Prometheus endpoint
 * (when {@code metrics.port} is not -1) and a shutdown hook, so SIGTERM stops it as
 * {@code stage.inflight.on.shutdown} says and the process exits once the stage has closed.
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
        Thread hook = new Thread(stage::close, "stage-" + definition.name() + "-sigterm");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            stage.run();
        } finally {
            server.ifPresent(MetricsServer::close);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook is what stopped us; it is running now.
            }
        }
        return stage.failure().isPresent() ? 1 : 0;
    }
}
