package dev.mgmstream.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import dev.mgmstream.encoders.EncodersStage;
import dev.mgmstream.lake.SinkStage;
import dev.mgmstream.pipeline.config.ConfigKey;
import dev.mgmstream.pipeline.metrics.Health;
import dev.mgmstream.pipeline.metrics.MetricsServer;
import dev.mgmstream.pipeline.stage.Stage;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.pipeline.stage.TerminationSignals;
import dev.mgmstream.generation.GenerationStage;
import dev.mgmstream.reasoning.ReasoningStage;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.views.ViewsConfig;
import dev.mgmstream.views.ViewsStage;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mgm stage}: one stage (or all) as a process of its own. */
@Command(name = "stage", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Runs one stage (encoders, reasoning, generation, sink, views, or all of them) as a process of its own.",
                "",
                "The production shape: encoders (images to visual tokens),",
                "reasoning (visual tokens to answers and generation prompts), generation (prompts to images;",
                "only with a generator in generation.model.dir), sink (answers to the lake table), or all of",
                "them in one process (views too); views (Kafka Streams: task status, image reports and the captions topic,",
                "queried over HTTP at /tasks/ID, /images/ID and /stats on views.http.port). Any number of copies of a stage form one consumer group and share",
                "the work; each copy needs its own instance id (--instance), which names its transactional id:",
                "a copy restarted with the same id fences its dead predecessor at once. The default is the",
                "host name (a StatefulSet's pod name), then host-1, host-2... for more copies on one host, each",
                "the lowest slot no live copy holds, so a restarted copy gets its predecessor's id back.",
                "SIGTERM (Ctrl-C) finishes or abandons the batch in flight consistently, then exits.",
                "Without a generator, reasoning answers generate tasks itself (reasoning.generate.output=answer)."},
        footer = {"", "Examples:",
                "  ./mgm stage encoders --bootstrap-servers localhost:9092 --schema-registry http://localhost:8081",
                "  ./mgm stage reasoning --bootstrap-servers localhost:9092 --instance r1 --set reasoning.lm.slots=16",
                "  ./mgm stage sink --bootstrap-servers localhost:9092 --set lake.warehouse=/data/lake",
                "  ./mgm stage views --bootstrap-servers localhost:9092 --set views.http.port=7070"})
final class StageCommand implements Callable<Integer> {

    enum Which { encoders, reasoning, generation, sink, views, all }

    @Parameters(index = "0", paramLabel = "STAGE", description = "encoders, reasoning, generation, sink, views or all.")
    Which which;

    @Mixin
    Connection connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--instance", paramLabel = "ID",
            description = "Instance id, stable across restarts of this copy (default: the host name, "
                    + "then host-1, host-2... for further copies on this host).")
    String instance;

    @Mixin
    ConfigOptions options;

    @Override
    public Integer call() throws Exception {
        // From the first moment: a signal while the models load is remembered, and the stage stops as soon as
        // it has started, instead of the JVM shutting down under a model's warm-up (TerminationSignals).
        try (TerminationSignals early = TerminationSignals.onSignal("mgm stage", () -> { })) {
            return execute();
        }
    }

    private int execute() throws Exception {
        Map<String, String> config = connection.resolve(options, spec);
        if (instance != null) {
            config.put("stage.instance.id", instance);
        }
        if (!config.containsKey("stage.instance.id")) {
            // held, never closed: the slot is this process's until it ends
            config.put("stage.instance.id", InstanceIds.claim("stage-" + which, InstanceIds.defaultLockDir()).id());
        }
        config = Keys.withBundledModel(config);
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        switch (which) {
            case encoders -> {
                try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
                     EncodersStage stage = EncodersStage.open(config, registry, meters)) {
                    return stage.runUntilStopped(StageSettings.from(EncodersStage.NAME, config), meters);
                }
            }
            case reasoning -> {
                try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
                     ReasoningStage stage = ReasoningStage.open(config, registry, meters)) {
                    return stage.runUntilStopped(StageSettings.from(ReasoningStage.NAME, config), meters);
                }
            }
            case generation -> {
                if (!GenerationStage.modelPresent(config)) {
                    System.err.println("mgm stage generation: no generator at " + config.get("generation.model.dir")
                            + " (set generation.model.dir to an export with a model.json of format "
                            + "mgm-stream/generator@1)");
                    return 2;
                }
                try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
                     GenerationStage stage = GenerationStage.open(config, registry, meters)) {
                    return stage.runUntilStopped(StageSettings.from(GenerationStage.NAME, config), meters);
                }
            }
            case sink -> {
                return runSink(config, meters);
            }
            case views -> {
                return runViews(config, meters);
            }
            default -> {
                return runAll(config, meters);
            }
        }
    }

    private static int runSink(Map<String, String> config, PrometheusMeterRegistry meters) throws InterruptedException {
        Optional<MetricsServer> server = MetricsServer.start(meters, StageSettings.from("sink", config).metricsPort());
        SinkStage sink = new SinkStage(config, meters);
        server.ifPresent(s -> s.health("sink", sinkHealth(sink)));
        try (TerminationSignals signals = TerminationSignals.onSignal("sink", sink::close)) {
            System.err.println("Sink writing to lake table " + LakeLocation.describe(config));
            sink.run();
        } finally {
            server.ifPresent(MetricsServer::close);
        }
        return sink.failure().isPresent() ? 1 : 0;
    }

    private static int runViews(Map<String, String> config, PrometheusMeterRegistry meters) throws InterruptedException {
        try (SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
             ViewsStage views = ViewsStage.start(config, registry, meters);
             TerminationSignals signals = TerminationSignals.onSignal(ViewsStage.NAME, views::stop)) {
            System.err.println("Views answering at " + views.url() + " (the results browser at /; /tasks/ID, /images/ID, "
                    + "/feed, /stats)");
            return views.awaitStop();
        }
    }

    /** The views stage's keys at the end of {@code --help}: its settings are not flags of their own. */
    static void listViewsKeys(CommandLine stage) {
        List<String> footer = new ArrayList<>(List.of(stage.getCommandSpec().usageMessage().footer()));
        footer.add("");
        footer.add("Keys of the views stage (--set KEY=VALUE or the environment variable; docs/configuration.md):");
        for (ConfigKey key : ViewsConfig.KEYS) {
            footer.add(String.format("  %-32s %-38s default %s", key.name(), key.envName(),
                    key.defaultValue().isEmpty() ? "(empty)" : key.defaultValue()));
        }
        stage.getCommandSpec().usageMessage().footer(footer.toArray(String[]::new));
    }

    /** The sink is not a {@link Stage}: live until it fails, ready while it runs. */
    private static Health.Check sinkHealth(SinkStage sink) {
        return () -> sink.failure().map(f -> new Health(false, false, "sink failed: " + f.getMessage()))
                .orElseGet(() -> new Health(true, true, "sink running"));
    }

    /** All stages on threads of this process, until SIGTERM or until one of them fails. */
    private static int runAll(Map<String, String> config, PrometheusMeterRegistry meters) throws InterruptedException {
        Optional<MetricsServer> server = MetricsServer.start(meters, StageSettings.from("all", config).metricsPort());
        List<AutoCloseable> open = new ArrayList<>();
        CountDownLatch stop = new CountDownLatch(1);
        TerminationSignals signals = TerminationSignals.onSignal("stages", stop::countDown);
        SchemaRegistryClient registry = HttpSchemaRegistryClient.fromConfig(config);
        int code = 0;
        try {
            EncodersStage encoders = EncodersStage.open(config, registry, meters);
            open.add(encoders);
            Stage<?, ?> e = encoders.start(StageSettings.from(EncodersStage.NAME, config), meters);
            open.add(0, e);
            server.ifPresent(s -> s.health(EncodersStage.NAME, e::health));
            ReasoningStage reasoning = ReasoningStage.open(config, registry, meters, encoders.store()::get);
            open.add(reasoning);
            Stage<?, ?> r = reasoning.start(StageSettings.from(ReasoningStage.NAME, config), meters);
            open.add(0, r);
            server.ifPresent(s -> s.health(ReasoningStage.NAME, r::health));
            Stage<?, ?> g = null;
            if (GenerationStage.modelPresent(config)) {
                GenerationStage generation = GenerationStage.open(config, registry, meters);
                open.add(generation);
                g = generation.start(StageSettings.from(GenerationStage.NAME, config), meters);
                open.add(0, g);
                Stage<?, ?> started = g;
                server.ifPresent(s -> s.health(GenerationStage.NAME, started::health));
            }
            SinkStage sink = SinkStage.start(config, meters);
            open.add(0, sink);
            server.ifPresent(s -> s.health("sink", sinkHealth(sink)));
            // Its own registry: the views serve /metrics (Kafka Streams' meters) on views.http.port, and a second
            // binding of the JVM's meters to this one would count every GC pause twice.
            ViewsStage views = ViewsStage.start(config, registry, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
            open.add(0, views);
            server.ifPresent(s -> s.health(ViewsStage.NAME, views::health));
            System.err.println("Stages encoders, reasoning, " + (g != null ? "generation, " : "")
                    + "sink and views running; lake table " + LakeLocation.describe(config)
                    + "; results browser at " + views.url() + "/");
            while (!stop.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
                if (e.failure().isPresent() || r.failure().isPresent() || sink.failure().isPresent()
                        || views.failure().isPresent() || (g != null && g.failure().isPresent())) {
                    System.err.println("mgm stage all: a stage failed; stopping the others");
                    code = 1;
                    break;
                }
            }
        } finally {
            for (AutoCloseable c : open) {
                if (!(c instanceof Stage<?, ?>) && open.stream().anyMatch(x -> x instanceof Stage<?, ?> s
                        && !s.workersStopped())) {
                    // a model closed under a batch still inside it would crash the JVM
                    System.err.println("mgm: a stage's batch is still computing after the stop; models left open");
                    break;
                }
                try {
                    c.close();
                } catch (Exception ex) {
                    System.err.println("mgm: while stopping: " + ex);
                }
            }
            registry.close();
            server.ifPresent(MetricsServer::close);
            signals.close();
        }
        return code;
    }
}
