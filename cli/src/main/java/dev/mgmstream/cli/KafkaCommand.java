package dev.mgmstream.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import dev.mgmstream.devkit.kafka.EmbeddedKafka;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.registry.RegistryServerConfig;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mgm kafka}: a single-node broker and schema registry for local multi-process runs. */
@Command(name = "kafka", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Runs a single-node Kafka broker and schema registry for local multi-process runs.",
                "",
                "The broker (KRaft, transactions on) and the registry run in this process; it creates the pipeline's topics, prints their addresses, and serves until Ctrl-C.",
                "Topics, records and schemas are kept in DIR, so a restart with the same DIR continues.",
                "For local multi-process runs: start stages with 'mgm stage' against these addresses."},
        footer = {"", "Example:", "  ./mgm kafka --data-dir /tmp/mgm-kafka --port 9092 --registry-port 8081",
                "  ./mgm stage all --bootstrap-servers localhost:9092 --schema-registry http://localhost:8081"})
final class KafkaCommand implements Callable<Integer> {

    @Option(names = "--data-dir", paramLabel = "DIR", required = true, description = "Where the broker keeps its data.")
    Path dataDir;

    @Option(names = "--port", paramLabel = "P", defaultValue = "9092", description = "Broker port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--registry-port", paramLabel = "R", defaultValue = "8081",
            description = "Schema registry port (default: ${DEFAULT-VALUE}).")
    int registryPort;

    @Mixin
    ConfigOptions options;

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(dataDir);
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "mgm-kafka-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults()
                .withDataDir(dataDir.toAbsolutePath()).withPort(port));
             InProcessSchemaRegistry registry = InProcessSchemaRegistry.start(
                     RegistryServerConfig.of(kafka.bootstrapServers(), registryPort))) {
            Map<String, String> config = new HashMap<>(options.resolve(Map.of()));
            config.put("bootstrap.servers", kafka.bootstrapServers());
            EmbeddedPipeline.provision(config);
            // Every topic's value schema registered now: a producer in another language can fetch the latest
            // ImageTask schema (use.latest.version) before any stage has run.
            try (SchemaRegistryClient client = HttpSchemaRegistryClient.fromConfig(
                    Map.of("schema.registry.url", registry.url()))) {
                EmbeddedPipeline.registerSchemas(config, client);
            }
            System.out.println("Kafka broker:    " + kafka.bootstrapServers());
            System.out.println("Schema registry: " + registry.url());
            System.out.println("Data:            " + dataDir.toAbsolutePath());
            System.out.println("Ready. Ctrl-C stops.");
            System.out.flush();
            stop.await();
        } finally {
            stopped.countDown();
        }
        return 0;
    }
}
