package dev.mgmstream.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import dev.mgmstream.pipeline.kafka.KafkaClientConfigs;
import dev.mgmstream.pipeline.kafka.TopicMisconfiguredException;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mgm topics}: the topic catalogue on an existing cluster, or as Strimzi resources. */
@Command(name = "topics", mixinStandardHelpOptions = true, sortOptions = false,
        subcommands = {TopicsCommand.Apply.class, TopicsCommand.ListTopics.class},
        description = {
                "The pipeline's topics (the topic catalogue, shaped by the topics.* settings).",
                "",
                "  apply   creates the missing topics on a cluster and reports every existing one whose",
                "          partitions or configs differ from the catalogue (exit 1 if any does).",
                "  list    prints the catalogue, as a table or as Strimzi KafkaTopic resources."},
        footer = {"", "Examples:",
                "  ./mgm topics apply --bootstrap-servers kafka:9093 --set kafka.security.protocol=SSL",
                "  ./mgm topics list --format strimzi --cluster mgm --set topics.partitions=12 > topics.yaml"})
final class TopicsCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.err.println("mgm topics: say apply or list (mgm topics --help)");
        return Mgm.USAGE;
    }

    @Command(name = "apply", mixinStandardHelpOptions = true,
            description = {"Creates the catalogue's missing topics and reports those that differ from it.",
                    "Exit code: 0 every topic is as the catalogue says; 1 some differ (listed); 3 no cluster."})
    static final class Apply implements Callable<Integer> {

        @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", required = true,
                description = "The cluster's brokers; kafka.* settings (TLS, SASL) apply.")
        String bootstrapServers;

        @Mixin
        ConfigOptions options;

        @Override
        public Integer call() {
            Map<String, String> config = options.resolve(Map.of("bootstrap.servers", bootstrapServers));
            List<TopicSpec> specs = List.copyOf(TopicCatalogue.fromConfig(config).all());
            try (Admin admin = Admin.create(KafkaClientConfigs.of(bootstrapServers, config,
                    KafkaClientConfigs.Kind.ADMIN))) {
                TopicProvisioner provisioner = new TopicProvisioner(admin);
                Set<String> created;
                try {
                    created = provisioner.ensure(specs);
                } catch (TopicMisconfiguredException e) {
                    created = Set.of(); // reported below with every other difference
                }
                created.forEach(name -> System.out.println("created " + name));
                List<String> differences = provisioner.differences(specs);
                differences.forEach(d -> System.out.println("differs " + d));
                System.out.println(specs.size() + " topics: " + created.size() + " created, " + differences.size()
                        + " difference(s)");
                return differences.isEmpty() ? 0 : 1;
            } catch (IllegalStateException | org.apache.kafka.common.KafkaException e) {
                System.err.println("mgm topics apply: " + e.getMessage());
                return 3;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Prints the catalogue: a table, or Strimzi KafkaTopic resources for kubectl apply.")
    static final class ListTopics implements Callable<Integer> {

        enum Format { table, strimzi }

        @Option(names = "--format", defaultValue = "table", description = "table or strimzi (default: ${DEFAULT-VALUE}).")
        Format format;

        @Option(names = "--cluster", defaultValue = "mgm",
                description = "With strimzi: the Kafka resource the topics belong to (default: ${DEFAULT-VALUE}).")
        String cluster;

        @Mixin
        ConfigOptions options;

        @Override
        public Integer call() {
            List<TopicSpec> specs = List.copyOf(TopicCatalogue.fromConfig(options.resolve(Map.of())).all());
            if (format == Format.strimzi) {
                strimzi(specs, cluster, System.out);
            } else {
                for (TopicSpec s : specs) {
                    System.out.printf("%-32s partitions %-3d replicas %-2d %s%n", s.name(), s.partitions(),
                            s.replicationFactor(), new TreeMap<>(s.configs()));
                }
            }
            return 0;
        }
    }

    /**
     * KafkaTopic resources of Strimzi's topic operator. A topic name may hold dots, which a Kubernetes name
     * may not, so the resource is named after it with dashes and carries the real name in spec.topicName.
     */
    static void strimzi(List<TopicSpec> specs, String cluster, PrintStream out) {
        for (TopicSpec s : specs) {
            out.println("---");
            out.println("apiVersion: kafka.strimzi.io/v1");
            out.println("kind: KafkaTopic");
            out.println("metadata:");
            out.println("  name: " + s.name().toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9-]", "-"));
            out.println("  labels:");
            out.println("    strimzi.io/cluster: " + cluster);
            out.println("spec:");
            out.println("  topicName: " + s.name());
            out.println("  partitions: " + s.partitions());
            out.println("  replicas: " + s.replicationFactor());
            out.println("  config:");
            new TreeMap<>(s.configs()).forEach((k, v) -> out.println("    " + k + ": \"" + v + "\""));
        }
    }
}
