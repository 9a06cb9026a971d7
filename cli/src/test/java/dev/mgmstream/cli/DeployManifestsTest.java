package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.mgmstream.encoders.EncoderMetrics;
import dev.mgmstream.encoders.EncodersStage;
import dev.mgmstream.generation.GenerationMetrics;
import dev.mgmstream.generation.GenerationStage;
import dev.mgmstream.lake.LakeSettings;
import dev.mgmstream.lake.SinkStage;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.metrics.StageMetrics;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.reasoning.ReasoningStage;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Kubernetes manifests under deploy/ against the code they deploy: the KafkaTopics against the
 * topic catalogue as the stages configure it, each stage's KafkaUser against the topics, group and
 * transactional ids the stage uses, KEDA's bounds against the partitions, the StatefulSets' probes and
 * instance ids, the configuration keys against the documented ones, and the Grafana dashboard's queries
 * against the meters the stages register.
 *
 * <p>Each Kustomize tree (base and overlays) is rendered by a small renderer here, which knows the
 * subset of Kustomize the trees use and refuses anything else; where {@code kubectl} is installed, one
 * test also checks that it renders the same as {@code kubectl kustomize}.
 */
class DeployManifestsTest {

    private static final Path HOME = Path.of(System.getProperty("mgm.home", "..")).toAbsolutePath().normalize();
    private static final Path DEPLOY = HOME.resolve("deploy");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What each stage's code reads and writes (its *Stage.java), and which topic its instances scale on. */
    private record StageUse(String stage, TopicRole input, Map<TopicRole, Set<String>> topics, boolean transactional) {
    }

    private static final Set<String> READ = Set.of("Read", "Describe");
    private static final Set<String> WRITE = Set.of("Write", "Describe");

    private static final List<StageUse> STAGES = List.of(
            new StageUse(EncodersStage.NAME, TopicRole.IMAGE_TASKS, Map.of(
                    TopicRole.IMAGE_TASKS, READ,
                    TopicRole.VISUAL_TOKENS, WRITE,
                    // written, and read back by every instance at start (assigned partitions, no group)
                    TopicRole.VISUAL_TOKEN_CACHE, Set.of("Read", "Write", "Describe"),
                    TopicRole.ANSWERS, WRITE,
                    TopicRole.DLQ_ENCODERS, WRITE), true),
            new StageUse(ReasoningStage.NAME, TopicRole.VISUAL_TOKENS, Map.of(
                    TopicRole.VISUAL_TOKENS, READ,
                    TopicRole.ANSWERS, WRITE,
                    TopicRole.GENERATION_REQUESTS, WRITE,
                    TopicRole.DLQ_REASONING, WRITE), true),
            new StageUse(GenerationStage.NAME, TopicRole.GENERATION_REQUESTS, Map.of(
                    TopicRole.GENERATION_REQUESTS, READ,
                    TopicRole.GENERATED_IMAGES, WRITE,
                    TopicRole.ANSWERS, WRITE,
                    TopicRole.DLQ_GENERATION, WRITE), true),
            // the sink's producer (dead letters) is idempotent, not transactional: the table holds its offsets
            new StageUse("sink", TopicRole.ANSWERS, Map.of(
                    TopicRole.ANSWERS, READ,
                    TopicRole.DLQ_SINK, WRITE), false));

    // ---------------------------------------------------------------- the checks, per Kustomize tree

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyTopicOfTheCatalogueHasItsKafkaTopicAndNoOtherTopicExists(String tree) {
        Deployment d = Deployment.of(tree);
        TopicCatalogue catalogue = d.catalogue();
        Map<String, JsonNode> topics = new TreeMap<>();
        for (JsonNode t : d.all("KafkaTopic")) {
            String name = t.path("spec").path("topicName").asText(t.path("metadata").path("name").asText());
            assertThat(topics.put(name, t)).as(tree + ": one KafkaTopic for " + name).isNull();
        }
        for (TopicSpec spec : catalogue.all()) {
            JsonNode t = topics.remove(spec.name());
            assertThat(t).as(tree + ": a KafkaTopic for " + spec.name()).isNotNull();
            assertThat(t.path("spec").path("partitions").asInt()).as(tree + ": partitions of " + spec.name())
                    .isEqualTo(spec.partitions());
            assertThat(t.path("spec").path("replicas").asInt()).as(tree + ": replicas of " + spec.name())
                    .isEqualTo(spec.replicationFactor());
            Map<String, String> config = new TreeMap<>();
            t.path("spec").path("config").fields().forEachRemaining(e -> config.put(e.getKey(), e.getValue().asText()));
            assertThat(config).as(tree + ": config of " + spec.name()).isEqualTo(new TreeMap<>(spec.configs()));
        }
        // The schema registry's own topic is the only one outside the catalogue.
        assertThat(topics.keySet()).as(tree + ": KafkaTopics for topics the catalogue does not know")
                .containsExactly(d.registryTopic());
        JsonNode schemas = topics.get(d.registryTopic());
        assertThat(schemas.path("spec").path("partitions").asInt()).isEqualTo(1);
        assertThat(schemas.path("spec").path("config").path("cleanup.policy").asText()).isEqualTo("compact");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyStrimziResourceBelongsToTheOneKafkaAndTheClientsFindIt(String tree) {
        Deployment d = Deployment.of(tree);
        assertThat(d.all("Kafka")).as(tree + ": one Kafka").hasSize(1);
        String cluster = d.all("Kafka").get(0).path("metadata").path("name").asText();
        for (String kind : List.of("KafkaNodePool", "KafkaTopic", "KafkaUser")) {
            for (JsonNode r : d.all(kind)) {
                assertThat(r.path("metadata").path("labels").path("strimzi.io/cluster").asText())
                        .as(tree + ": " + kind + " " + r.path("metadata").path("name").asText() + "'s cluster")
                        .isEqualTo(cluster);
            }
        }
        // Strimzi's names for the bootstrap Service (port 9093: the TLS listener) and the CA secret
        String bootstrap = cluster + "-kafka-bootstrap:9093";
        for (StageUse use : STAGES) {
            Map<String, String> config = d.stageConfig(use.stage());
            assertThat(config.get("bootstrap.servers")).as(tree + ": " + use.stage()).isEqualTo(bootstrap);
            assertThat(env(d.stageContainer(d.statefulSetOf(use.stage())), "MGM_KAFKA_SSL_TRUSTSTORE_PASSWORD")
                    .path("valueFrom").path("secretKeyRef").path("name").asText()).isEqualTo(cluster + "-cluster-ca-cert");
        }
        assertThat(d.registryEnv("KARAPACE_BOOTSTRAP_URI")).isEqualTo(bootstrap);
        JsonNode listeners = d.all("Kafka").get(0).path("spec").path("kafka").path("listeners");
        assertThat(listeners).as(tree + ": one listener, TLS with SCRAM").hasSize(1);
        assertThat(listeners.get(0).path("port").asInt()).isEqualTo(9093);
        assertThat(listeners.get(0).path("tls").asBoolean()).isTrue();
        assertThat(listeners.get(0).path("authentication").path("type").asText()).isEqualTo("scram-sha-512");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyStageSeesTheSameCatalogue(String tree) {
        Deployment d = Deployment.of(tree);
        for (StageUse use : STAGES) {
            assertThat(TopicCatalogue.fromConfig(d.stageConfig(use.stage())).all())
                    .as(tree + ": the catalogue as the " + use.stage() + " stage configures it")
                    .isEqualTo(d.catalogue().all());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void eachKafkaUserHasExactlyTheAclsItsClientNeeds(String tree) {
        Deployment d = Deployment.of(tree);
        TopicCatalogue catalogue = d.catalogue();
        Set<String> users = new TreeSet<>();
        d.all("KafkaUser").forEach(u -> users.add(u.path("metadata").path("name").asText()));
        Set<String> groups = new HashSet<>();
        for (StageUse use : STAGES) {
            String user = d.stageUser(use.stage());
            assertThat(users.remove(user)).as(tree + ": the " + use.stage() + " stage's KafkaUser " + user).isTrue();
            JsonNode spec = d.get("KafkaUser", user).path("spec");
            assertThat(spec.path("authentication").path("type").asText()).isEqualTo("scram-sha-512");
            Map<String, String> config = d.stageConfig(use.stage());
            Set<String> expected = new TreeSet<>();
            use.topics().forEach((role, ops) -> ops.forEach(op ->
                    expected.add(acl("topic", catalogue.name(role), "literal", op))));
            String group = groupOf(use.stage(), config);
            groups.add(group);
            expected.add(acl("group", group, "literal", "Read"));
            if (use.transactional()) {
                // transactional.id = <group>-<instance>: the prefix is what precedes any instance id
                String tid = StageSettings.from(use.stage(), withInstance(config, "X")).transactionalId();
                String prefix = tid.substring(0, tid.length() - 1);
                expected.add(acl("transactionalId", prefix, "prefix", "Write"));
                expected.add(acl("transactionalId", prefix, "prefix", "Describe"));
            }
            assertThat(acls(spec)).as(tree + ": ACLs of " + user).isEqualTo(expected);
        }
        // KEDA only describes the stages' input topics and groups.
        assertThat(users.remove("mgm-keda")).as(tree + ": KEDA's KafkaUser").isTrue();
        Set<String> keda = new TreeSet<>();
        for (StageUse use : STAGES) {
            keda.add(acl("topic", catalogue.name(use.input()), "literal", "Describe"));
            keda.add(acl("group", groupOf(use.stage(), d.stageConfig(use.stage())), "literal", "Describe"));
        }
        assertThat(acls(d.get("KafkaUser", "mgm-keda").path("spec"))).as(tree + ": ACLs of mgm-keda").isEqualTo(keda);
        // The registry touches only its own topic and group.
        assertThat(users.remove("mgm-schema-registry")).as(tree + ": the schema registry's KafkaUser").isTrue();
        for (String a : acls(d.get("KafkaUser", "mgm-schema-registry").path("spec"))) {
            assertThat(a).as(tree + ": registry ACL").matches("(topic " + Pattern.quote(d.registryTopic()) + "|group "
                    + Pattern.quote(d.registryEnv("KARAPACE_GROUP_ID")) + ") literal \\w+");
        }
        // A client application submits tasks and reads answers by assigned partitions (mgm run, publish, results).
        assertThat(users.remove("mgm-client")).as(tree + ": the client applications' KafkaUser").isTrue();
        assertThat(acls(d.get("KafkaUser", "mgm-client").path("spec"))).as(tree + ": ACLs of mgm-client").isEqualTo(
                new TreeSet<>(Set.of(acl("topic", catalogue.name(TopicRole.IMAGE_TASKS), "literal", "Write"),
                        acl("topic", catalogue.name(TopicRole.IMAGE_TASKS), "literal", "Describe"),
                        acl("topic", catalogue.name(TopicRole.ANSWERS), "literal", "Read"),
                        acl("topic", catalogue.name(TopicRole.ANSWERS), "literal", "Describe"))));
        assertThat(groups).as("stages' groups differ from the registry's").doesNotContain(d.registryEnv("KARAPACE_GROUP_ID"));
        assertThat(users).as(tree + ": KafkaUsers nobody uses").isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void eachStageScalesOnItsInputWithinItsPartitions(String tree) {
        Deployment d = Deployment.of(tree);
        Set<String> targets = new TreeSet<>();
        for (JsonNode so : d.all("ScaledObject")) {
            JsonNode spec = so.path("spec");
            assertThat(spec.path("scaleTargetRef").path("kind").asText()).isEqualTo("StatefulSet");
            String target = spec.path("scaleTargetRef").path("name").asText();
            assertThat(targets.add(target)).as(tree + ": one ScaledObject for " + target).isTrue();
            StageUse use = d.stageOf(target);
            assertThat(spec.path("triggers")).hasSize(1);
            JsonNode trigger = spec.path("triggers").get(0);
            assertThat(trigger.path("type").asText()).isEqualTo("kafka");
            JsonNode meta = trigger.path("metadata");
            TopicSpec input = d.catalogue().spec(use.input());
            assertThat(meta.path("topic").asText()).as(tree + ": " + target + " scales on").isEqualTo(input.name());
            assertThat(meta.path("consumerGroup").asText()).as(tree + ": " + target + "'s group")
                    .isEqualTo(groupOf(use.stage(), d.stageConfig(use.stage())));
            assertThat(meta.path("bootstrapServers").asText())
                    .isEqualTo(d.stageConfig(use.stage()).get("bootstrap.servers"));
            int partitions = d.kafkaTopic(input.name()).path("spec").path("partitions").asInt();
            assertThat(spec.path("maxReplicaCount").asInt()).as(tree + ": " + target + "'s maxReplicaCount")
                    .isBetween(1, partitions);
            assertThat(spec.path("minReplicaCount").asInt(0)).isBetween(1, spec.path("maxReplicaCount").asInt());
            assertThat(d.get("TriggerAuthentication", trigger.path("authenticationRef").path("name").asText()))
                    .isNotNull();
        }
        assertThat(targets).as(tree + ": ScaledObjects").isEqualTo(d.stageStatefulSets().keySet());
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyStatefulSetIsAStageNamedByItsPodWithHealthProbesAndABudget(String tree) {
        Deployment d = Deployment.of(tree);
        assertThat(d.all("StatefulSet")).as(tree + ": every StatefulSet is a stage").hasSize(STAGES.size());
        assertThat(d.stageStatefulSets().keySet()).hasSize(STAGES.size());
        for (JsonNode sts : d.all("StatefulSet")) {
            String name = sts.path("metadata").path("name").asText();
            JsonNode pod = sts.path("spec").path("template").path("spec");
            JsonNode c = d.stageContainer(sts);
            List<String> args = texts(c.path("args"));
            assertThat(args).as(tree + ": " + name + " runs `mgm stage`").startsWith("stage");
            assertThat(args).as(tree + ": " + name + ": the instance id comes from the pod name, not a flag")
                    .doesNotContain("--instance");
            JsonNode instance = env(c, "MGM_STAGE_INSTANCE_ID");
            assertThat(instance.path("valueFrom").path("fieldRef").path("fieldPath").asText())
                    .as(tree + ": " + name + " sets stage.instance.id from the pod name").isEqualTo("metadata.name");
            assertThat(sts.path("spec").path("serviceName").asText()).isNotEmpty();
            String port = d.stageConfig(d.stageOf(name).stage()).get("metrics.port");
            JsonNode metricsPort = null;
            for (JsonNode p : c.path("ports")) {
                if (p.path("name").asText().equals("metrics")) {
                    metricsPort = p;
                }
            }
            assertThat(metricsPort).as(tree + ": " + name + " names its metrics port").isNotNull();
            assertThat(metricsPort.path("containerPort").asText()).as("metrics.port").isEqualTo(port);
            assertProbe(c.path("livenessProbe"), "/health/live", tree + ": " + name + " liveness");
            assertProbe(c.path("readinessProbe"), "/health/ready", tree + ": " + name + " readiness");
            assertProbe(c.path("startupProbe"), "/health/live", tree + ": " + name + " startup");
            // the stage logs in as its own user, which must exist
            String jaas = env(c, "MGM_KAFKA_SASL_JAAS_CONFIG").path("valueFrom").path("secretKeyRef").path("name").asText();
            assertThat(jaas).isEqualTo(d.stageUser(d.stageOf(name).stage()));
            assertThat(d.get("KafkaUser", jaas)).isNotNull();
            // every mounted volume is declared, every claim exists
            Set<String> volumes = new HashSet<>();
            pod.path("volumes").forEach(v -> {
                volumes.add(v.path("name").asText());
                if (v.has("persistentVolumeClaim")) {
                    assertThat(d.get("PersistentVolumeClaim", v.path("persistentVolumeClaim").path("claimName").asText()))
                            .as(tree + ": " + name + "'s claim").isNotNull();
                }
            });
            sts.path("spec").path("volumeClaimTemplates").forEach(v -> volumes.add(v.path("metadata").path("name").asText()));
            c.path("volumeMounts").forEach(m -> assertThat(volumes).as(tree + ": " + name + "'s volumes")
                    .contains(m.path("name").asText()));
            pod.path("initContainers").forEach(init -> init.path("volumeMounts").forEach(m ->
                    assertThat(volumes).as(tree + ": " + name + "'s volumes (init containers)")
                            .contains(m.path("name").asText())));
            long budgets = d.all("PodDisruptionBudget").stream()
                    .filter(p -> p.path("spec").path("selector").path("matchLabels")
                            .equals(sts.path("spec").path("selector").path("matchLabels")))
                    .count();
            assertThat(budgets).as(tree + ": a PodDisruptionBudget for " + name).isEqualTo(1);
        }
    }

    /**
     * The stages run the image cli/pom.xml builds with Jib (its repository and tag, passed by surefire as
     * mgm.image); models come from the models volume or, on dev, an init container of the models image
     * (jib:buildTar@models), never from the stage image.
     */
    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev"})
    void theStagesRunTheImageJibBuildsAndReadModelsFromAVolume(String tree) {
        String image = System.getProperty("mgm.image", "ghcr.io/mgm-stream/mgm:0.1.0");
        String modelsImage = System.getProperty("mgm.models.image", "ghcr.io/mgm-stream/mgm-models:0.1.0");
        Deployment d = Deployment.of(tree);
        for (JsonNode sts : d.all("StatefulSet")) {
            String name = sts.path("metadata").path("name").asText();
            JsonNode c = d.stageContainer(sts);
            assertThat(c.path("image").asText()).as(tree + ": " + name + "'s image").isEqualTo(image);
            assertThat(c.has("command")).as(tree + ": " + name + " keeps the image's entry point (mgm)").isFalse();
            JsonNode pod = sts.path("spec").path("template").path("spec");
            long uid = pod.path("securityContext").path("runAsUser").asLong(-1);
            assertThat(uid).as(tree + ": " + name + " runs as the image's non-root user").isEqualTo(65532);
            for (JsonNode e : c.path("env")) {
                if (e.path("name").asText().matches("MGM_[A-Z]+_MODEL_DIRS?")) {
                    String dir = e.path("value").asText();
                    JsonNode mount = null;
                    for (JsonNode m : c.path("volumeMounts")) {
                        if (dir.startsWith(m.path("mountPath").asText() + "/")) {
                            mount = m;
                        }
                    }
                    assertThat(mount).as(tree + ": " + name + "'s " + dir + " is on a volume, not in the image")
                            .isNotNull();
                }
            }
            for (JsonNode init : pod.path("initContainers")) {
                assertThat(init.path("image").asText()).as(tree + ": " + name + "'s init container")
                        .isEqualTo(modelsImage);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyConfigurationKeyIsOneTheCodeReads(String tree) throws IOException {
        Deployment d = Deployment.of(tree);
        Set<String> documented = documentedKeys();
        for (StageUse use : STAGES) {
            for (String key : d.stageKeys(use.stage())) {
                boolean known = documented.contains(key)
                        || key.startsWith("kafka.")
                        || key.startsWith("lake.catalog.property.")
                        || key.matches("topics\\.[a-z.-]+\\.(partitions|max\\.message\\.bytes|retention\\.ms)");
                assertThat(known).as(tree + ": the " + use.stage() + " stage's key '" + key
                        + "' is documented in docs/configuration.md").isTrue();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/gpu"})
    void modelStagesOnGpusRequestOneAndKeepTheirTensorRtEnginesOnTheirOwnVolume(String tree) {
        Deployment d = Deployment.of(tree);
        for (StageUse use : STAGES) {
            JsonNode sts = d.statefulSetOf(use.stage());
            JsonNode c = d.stageContainer(sts);
            JsonNode pod = sts.path("spec").path("template").path("spec");
            if (use.stage().equals("sink")) {
                assertThat(c.path("resources").path("limits").has("nvidia.com/gpu")).isFalse();
                continue;
            }
            assertThat(c.path("resources").path("limits").path("nvidia.com/gpu").asInt()).isEqualTo(1);
            assertThat(c.path("resources").path("requests").path("nvidia.com/gpu").asInt(1)).isEqualTo(1);
            assertThat(pod.path("nodeSelector").size()).isPositive();
            assertThat(texts(pod.path("tolerations"), "key")).contains("nvidia.com/gpu");
            Map<String, String> config = d.stageConfig(use.stage());
            String provider = config.get(use.stage() + ".engine.provider");
            assertThat(provider).isIn("cuda", "tensorrt");
            if (provider.equals("tensorrt")) {
                String cache = config.get(use.stage() + ".engine.trt.cache.dir");
                assertThat(cache).as(use.stage() + ": a TensorRT engine cache").isNotBlank();
                String volume = null;
                for (JsonNode m : c.path("volumeMounts")) {
                    if (m.path("mountPath").asText().equals(cache)) {
                        volume = m.path("name").asText();
                    }
                }
                assertThat(texts(sts.path("spec").path("volumeClaimTemplates"), "metadata", "name"))
                        .as(use.stage() + ": the engine cache is a volume of the pod's own").contains(volume);
            }
        }
    }

    @Test
    void serviceMonitorScrapesEveryStagesMetricsPort() {
        Deployment d = Deployment.of("base");
        JsonNode monitor = d.get("ServiceMonitor", "mgm-stages");
        JsonNode selector = monitor.path("spec").path("selector").path("matchLabels");
        String port = monitor.path("spec").path("endpoints").get(0).path("port").asText();
        for (JsonNode sts : d.stageStatefulSets().values()) {
            JsonNode service = d.get("Service", sts.path("spec").path("serviceName").asText());
            assertThat(service).isNotNull();
            selector.fields().forEachRemaining(e -> assertThat(service.path("metadata").path("labels").path(e.getKey()))
                    .as("ServiceMonitor selects " + service.path("metadata").path("name").asText()).isEqualTo(e.getValue()));
            assertThat(texts(service.path("spec").path("ports"), "name")).contains(port);
        }
    }

    // ---------------------------------------------------------------- the dashboard

    @Test
    void dashboardIsValidJsonAndQueriesOnlyMetricsTheStagesExport() throws IOException {
        JsonNode dashboard = JSON.readTree(DEPLOY.resolve("base/monitoring/grafana-dashboard.json").toFile());
        assertThat(dashboard.path("uid").asText()).isNotBlank();
        List<String> exprs = new ArrayList<>();
        Set<Integer> ids = new HashSet<>();
        for (JsonNode panel : dashboard.path("panels")) {
            assertThat(ids.add(panel.path("id").asInt())).as("panel ids are unique").isTrue();
            assertThat(panel.path("gridPos").path("w").asInt()).isPositive();
            assertThat(panel.path("targets").size()).as(panel.path("title").asText()).isPositive();
            panel.path("targets").forEach(t -> exprs.add(t.path("expr").asText()));
        }
        String all = String.join("\n", exprs);
        // what the issue asks for
        assertThat(all).contains("mgm_stage_consumer_lag", "mgm_stage_batch_size", "mgm_stage_records_in_total",
                "mgm_stage_dead_lettered_total", "mgm_stage_transactions_aborted_total",
                "histogram_quantile(0.5, sum by (stage, le) (rate(mgm_stage_batch_latency_seconds_bucket",
                "histogram_quantile(0.99, sum by (stage, le) (rate(mgm_stage_batch_latency_seconds_bucket",
                "mgm_encoders_images_encoded_total");

        Set<String> exported = exportedSeries();
        Matcher m = Pattern.compile("\\b(mgm_[a-z0-9_]+|kafka_[a-z0-9_]+)").matcher(all);
        Set<String> queried = new TreeSet<>();
        while (m.find()) {
            queried.add(m.group(1));
        }
        for (String name : queried) {
            if (name.startsWith("kafka_")) {
                // Strimzi's Kafka Exporter, not this code base
                assertThat(name).isEqualTo("kafka_consumergroup_lag");
            } else {
                assertThat(exported).as("a series the stages export").contains(name);
            }
        }
        JsonNode generated = Deployment.of("base").get("ConfigMap", "mgm-grafana-dashboard");
        assertThat(JSON.readTree(generated.path("data").path("grafana-dashboard.json").asText())).isEqualTo(dashboard);
    }

    /** Series names in a scrape of the meters every stage registers, as Prometheus sees them. */
    private static Set<String> exportedSeries() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        for (StageUse use : STAGES) {
            new StageMetrics(registry, use.stage()).committed(1, 1, 0, Duration.ofMillis(5));
        }
        new EncoderMetrics(registry);
        new GenerationMetrics(registry);
        new SinkStage(Map.of(), registry);
        Set<String> names = new TreeSet<>();
        for (String line : registry.scrape().split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    // ---------------------------------------------------------------- the renderer against kubectl

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void theRendererHereAgreesWithKubectlKustomize(String tree) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder("kubectl", "kustomize", DEPLOY.resolve(tree).toString())
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            Assumptions.abort("kubectl is not installed");
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("kubectl kustomize " + tree).isZero();
        Map<String, JsonNode> kubectl = byId(readAll(out));
        Map<String, JsonNode> ours = byId(Deployment.of(tree).docs);
        assertThat(ours.keySet()).isEqualTo(kubectl.keySet());
        ours.forEach((id, doc) -> assertThat(canonical(doc)).as(tree + ": " + id).isEqualTo(canonical(kubectl.get(id))));
    }

    private static Map<String, JsonNode> byId(List<JsonNode> docs) {
        Map<String, JsonNode> m = new TreeMap<>();
        docs.forEach(doc -> m.put(doc.path("kind").asText() + "/" + doc.path("metadata").path("namespace").asText()
                + "/" + doc.path("metadata").path("name").asText(), doc));
        return m;
    }

    /** Scalars as text (YAML typing aside), lists in a fixed order (merged lists' order aside). */
    private static JsonNode canonical(JsonNode n) {
        if (n.isObject()) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            new TreeMap<>(toMap(n)).forEach((k, v) -> o.set(k, canonical(v)));
            return o;
        }
        if (n.isArray()) {
            List<JsonNode> items = new ArrayList<>();
            n.forEach(i -> items.add(canonical(i)));
            items.sort((a, b) -> a.toString().compareTo(b.toString()));
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            items.forEach(a::add);
            return a;
        }
        return JsonNodeFactory.instance.textNode(n.isNull() ? "" : n.asText());
    }

    // ---------------------------------------------------------------- helpers

    private static String groupOf(String stage, Map<String, String> config) {
        if (stage.equals("sink")) {
            return LakeSettings.from(config).groupId();
        }
        return StageSettings.from(stage, config).groupId();
    }

    private static Map<String, String> withInstance(Map<String, String> config, String id) {
        Map<String, String> c = new HashMap<>(config);
        c.put("stage.instance.id", id);
        return c;
    }

    private static String acl(String type, String name, String pattern, String op) {
        return type + " " + name + " " + pattern + " " + op;
    }

    private static Set<String> acls(JsonNode userSpec) {
        assertThat(userSpec.path("authorization").path("type").asText()).isEqualTo("simple");
        Set<String> acls = new TreeSet<>();
        for (JsonNode a : userSpec.path("authorization").path("acls")) {
            JsonNode r = a.path("resource");
            assertThat(a.path("type").asText("allow")).isEqualTo("allow");
            for (JsonNode op : a.path("operations")) {
                acls.add(acl(r.path("type").asText(), r.path("name").asText(), r.path("patternType").asText("literal"),
                        op.asText()));
            }
        }
        return acls;
    }

    private static void assertProbe(JsonNode probe, String path, String what) {
        assertThat(probe.path("httpGet").path("path").asText()).as(what).isEqualTo(path);
        assertThat(probe.path("httpGet").path("port").asText()).as(what + " port").isEqualTo("metrics");
    }

    private static JsonNode env(JsonNode container, String name) {
        for (JsonNode e : container.path("env")) {
            if (e.path("name").asText().equals(name)) {
                return e;
            }
        }
        return fail(container.path("name").asText() + " has no " + name);
    }

    private static List<String> texts(JsonNode array, String... path) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) {
            for (String p : path) {
                n = n.path(p);
            }
            out.add(n.asText());
        }
        return out;
    }

    private static Map<String, JsonNode> toMap(JsonNode object) {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        object.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }

    /** Keys in the first column of docs/configuration.md's tables. */
    private static Set<String> documentedKeys() throws IOException {
        Set<String> keys = new HashSet<>();
        Matcher m = Pattern.compile("(?m)^\\| `([a-z0-9.<>_-]+)`").matcher(
                Files.readString(HOME.resolve("docs/configuration.md")));
        while (m.find()) {
            keys.add(m.group(1));
        }
        return keys;
    }

    private static List<JsonNode> readAll(String yaml) {
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            List<JsonNode> docs = new ArrayList<>();
            while (it.hasNext()) {
                JsonNode n = it.next();
                if (n != null && !n.isNull() && !n.isMissingNode()) {
                    docs.add(n);
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<JsonNode> readAll(Path file) {
        try {
            return readAll(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    @Test
    void everyYamlFileUnderDeployParses() throws IOException {
        try (Stream<Path> files = Files.walk(DEPLOY)) {
            List<Path> yaml = files.filter(f -> f.toString().endsWith(".yaml")).toList();
            assertThat(yaml).hasSizeGreaterThan(10);
            for (Path f : yaml) {
                List<JsonNode> docs = readAll(f);
                assertThat(docs).as(f.toString()).isNotEmpty();
                for (JsonNode doc : docs) {
                    if (doc.isObject()) {
                        assertThat(doc.path("kind").asText()).as(f + ": kind").isNotEmpty();
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- the rendered deployment

    /** One Kustomize tree, rendered. */
    private static final class Deployment {

        private static final Map<String, Deployment> RENDERED = new HashMap<>();

        final List<JsonNode> docs;

        private Deployment(List<JsonNode> docs) {
            this.docs = docs;
        }

        static synchronized Deployment of(String tree) {
            return RENDERED.computeIfAbsent(tree, t -> new Deployment(Kustomize.render(DEPLOY.resolve(t))));
        }

        List<JsonNode> all(String kind) {
            return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
        }

        JsonNode get(String kind, String name) {
            return all(kind).stream().filter(d -> d.path("metadata").path("name").asText().equals(name))
                    .findFirst().orElse(null);
        }

        JsonNode kafkaTopic(String topic) {
            return all("KafkaTopic").stream()
                    .filter(t -> t.path("spec").path("topicName").asText(t.path("metadata").path("name").asText())
                            .equals(topic))
                    .findFirst().orElseThrow(() -> new AssertionError("no KafkaTopic for " + topic));
        }

        /** The stage StatefulSets by name: those whose container runs {@code mgm stage <name>}. */
        Map<String, JsonNode> stageStatefulSets() {
            Map<String, JsonNode> m = new TreeMap<>();
            all("StatefulSet").forEach(s -> m.put(s.path("metadata").path("name").asText(), s));
            return m;
        }

        JsonNode stageContainer(JsonNode sts) {
            for (JsonNode c : sts.path("spec").path("template").path("spec").path("containers")) {
                List<String> args = texts(c.path("args"));
                if (args.size() >= 2 && args.get(0).equals("stage")) {
                    return c;
                }
            }
            return fail(sts.path("metadata").path("name").asText() + " has no container running `mgm stage`");
        }

        StageUse stageOf(String statefulSet) {
            String stage = texts(stageContainer(stageStatefulSets().get(statefulSet)).path("args")).get(1);
            return STAGES.stream().filter(s -> s.stage().equals(stage)).findFirst()
                    .orElseThrow(() -> new AssertionError(statefulSet + " runs an unknown stage " + stage));
        }

        JsonNode statefulSetOf(String stage) {
            return stageStatefulSets().entrySet().stream().filter(e -> stageOf(e.getKey()).stage().equals(stage))
                    .map(Map.Entry::getValue).findFirst()
                    .orElseThrow(() -> new AssertionError("no StatefulSet runs the " + stage + " stage"));
        }

        String stageUser(String stage) {
            JsonNode c = stageContainer(statefulSetOf(stage));
            return env(c, "MGM_KAFKA_SASL_JAAS_CONFIG").path("valueFrom").path("secretKeyRef").path("name").asText();
        }

        /** The stage's environment as its container gets it: envFrom ConfigMaps, then env values. */
        Map<String, String> stageEnv(String stage) {
            JsonNode c = stageContainer(statefulSetOf(stage));
            Map<String, String> env = new LinkedHashMap<>();
            for (JsonNode from : c.path("envFrom")) {
                if (from.has("configMapRef")) {
                    JsonNode cm = get("ConfigMap", from.path("configMapRef").path("name").asText());
                    assertThat(cm).as(stage + "'s ConfigMap " + from).isNotNull();
                    cm.path("data").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
                }
            }
            for (JsonNode e : c.path("env")) {
                if (e.has("value")) {
                    env.put(e.path("name").asText(), e.path("value").asText());
                } else {
                    env.put(e.path("name").asText(), "(from " + e.path("valueFrom").fieldNames().next() + ")");
                }
            }
            return env;
        }

        /** Keys the stage is given: its MGM_* variables and the properties file MGM_CONFIG_FILE names, if mounted. */
        Set<String> stageKeys(String stage) {
            Map<String, String> env = stageEnv(stage);
            Set<String> keys = new TreeSet<>(LayeredConfig.resolve(List.of(), env.entrySet().stream()
                    .filter(e -> !e.getKey().equals("MGM_CONFIG_FILE"))
                    .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)), Map.of()).keySet());
            keys.addAll(configFile(stage).keySet());
            if (env.containsKey("MGM_CONFIG_FILE")) {
                keys.add("config.file");
            }
            return keys;
        }

        /** The properties file named by MGM_CONFIG_FILE, read from the ConfigMap mounted there. */
        Map<String, String> configFile(String stage) {
            String file = stageEnv(stage).get("MGM_CONFIG_FILE");
            if (file == null) {
                return Map.of();
            }
            JsonNode sts = statefulSetOf(stage);
            for (JsonNode m : stageContainer(sts).path("volumeMounts")) {
                String dir = m.path("mountPath").asText();
                if (file.startsWith(dir + "/")) {
                    for (JsonNode v : sts.path("spec").path("template").path("spec").path("volumes")) {
                        if (v.path("name").asText().equals(m.path("name").asText()) && v.has("configMap")) {
                            JsonNode cm = get("ConfigMap", v.path("configMap").path("name").asText());
                            String text = cm.path("data").path(file.substring(dir.length() + 1)).asText(null);
                            assertThat(text).as(stage + ": " + file + " in its ConfigMap").isNotNull();
                            java.util.Properties p = new java.util.Properties();
                            try {
                                p.load(new java.io.StringReader(text));
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                            Map<String, String> out = new TreeMap<>();
                            p.stringPropertyNames().forEach(k -> out.put(k, p.getProperty(k)));
                            return out;
                        }
                    }
                }
            }
            return fail(stage + ": " + file + " is on no mounted ConfigMap");
        }

        /** The stage's configuration as LayeredConfig resolves it from the manifests (defaults aside). */
        Map<String, String> stageConfig(String stage) {
            Map<String, String> env = new HashMap<>(stageEnv(stage));
            env.remove("MGM_CONFIG_FILE");
            Map<String, String> config = new HashMap<>(configFile(stage));
            config.putAll(LayeredConfig.resolve(List.of(), env, Map.of()));
            return config;
        }

        /** The catalogue as every stage builds it (everyStageSeesTheSameCatalogue checks they agree). */
        TopicCatalogue catalogue() {
            return TopicCatalogue.fromConfig(stageConfig(EncodersStage.NAME));
        }

        String registryEnv(String name) {
            JsonNode registry = get("Deployment", "mgm-schema-registry");
            assertThat(registry).as("the schema registry's Deployment").isNotNull();
            return env(registry.path("spec").path("template").path("spec").path("containers").get(0), name)
                    .path("value").asText();
        }

        String registryTopic() {
            return registryEnv("KARAPACE_TOPIC_NAME");
        }
    }

    /**
     * The subset of Kustomize the trees under deploy/ use: resources (files and folders), namespace,
     * configMapGenerator (files), images (newName/newTag), and patches (strategic merge, with the merge
     * keys of the Kubernetes types used here, {@code $patch: delete} and null deletion; or JSON 6902
     * replace/add/remove) with an optional target of kind and name. Anything else fails the test, so
     * the renderer cannot silently fall behind the manifests.
     */
    private static final class Kustomize {

        private static final Set<String> SUPPORTED = Set.of("apiVersion", "kind", "namespace", "resources",
                "patches", "configMapGenerator", "images");
        private static final Map<String, String> MERGE_KEYS = Map.of("containers", "name", "initContainers", "name",
                "volumes", "name", "env", "name", "volumeMounts", "mountPath", "ports", "containerPort");
        private static final Set<String> CLUSTER_SCOPED = Set.of("Namespace");

        static List<JsonNode> render(Path dir) {
            JsonNode k = readAll(dir.resolve("kustomization.yaml")).get(0);
            k.fieldNames().forEachRemaining(f -> assertThat(SUPPORTED).as(dir + ": kustomization field " + f
                    + " (teach DeployManifestsTest.Kustomize)").contains(f));
            List<JsonNode> docs = new ArrayList<>();
            for (JsonNode r : k.path("resources")) {
                Path p = dir.resolve(r.asText()).normalize();
                docs.addAll(Files.isDirectory(p) ? render(p) : readAll(p));
            }
            for (JsonNode g : k.path("configMapGenerator")) {
                ObjectNode cm = JsonNodeFactory.instance.objectNode();
                cm.put("apiVersion", "v1");
                cm.put("kind", "ConfigMap");
                ObjectNode meta = cm.putObject("metadata");
                meta.put("name", g.path("name").asText());
                assertThat(g.path("options").path("disableNameSuffixHash").asBoolean())
                        .as(dir + ": generated names are kept (no hash suffix)").isTrue();
                if (g.path("options").has("labels")) {
                    meta.set("labels", g.path("options").path("labels"));
                }
                ObjectNode data = cm.putObject("data");
                for (JsonNode f : g.path("files")) {
                    Path file = dir.resolve(f.asText());
                    try {
                        data.put(file.getFileName().toString(), Files.readString(file));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                docs.add(cm);
            }
            for (JsonNode patch : k.path("patches")) {
                String text;
                try {
                    text = patch.has("path") ? Files.readString(dir.resolve(patch.path("path").asText()))
                            : patch.path("patch").asText();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                JsonNode target = patch.path("target");
                JsonNode first;
                try {
                    first = YAML.readTree(text); // readAll would unwrap a top-level list
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                if (first.isArray()) {
                    assertThat(target.isMissingNode()).as(dir + ": a JSON 6902 patch names its target").isFalse();
                    int applied = 0;
                    for (JsonNode doc : docs) {
                        if (matches(doc, target.path("kind").asText(null), target.path("name").asText(null))) {
                            json6902((ObjectNode) doc, first);
                            applied++;
                        }
                    }
                    assertThat(applied).as(dir + ": patch " + patch + " applies somewhere").isPositive();
                    continue;
                }
                for (JsonNode part : readAll(text)) {
                    String kind = target.path("kind").asText(part.path("kind").asText());
                    String name = target.path("name").asText(part.path("metadata").path("name").asText());
                    List<JsonNode> hits = docs.stream().filter(d -> matches(d, kind, name)).toList();
                    assertThat(hits).as(dir + ": patch of " + kind + "/" + name + " finds it").isNotEmpty();
                    if (part.path("$patch").asText().equals("delete")) {
                        docs.removeAll(hits);
                    } else {
                        hits.forEach(h -> merge((ObjectNode) h, part));
                    }
                }
            }
            for (JsonNode image : k.path("images")) {
                String name = image.path("name").asText();
                for (JsonNode doc : docs) {
                    JsonNode pod = doc.path("spec").path("template").path("spec");
                    for (String field : List.of("containers", "initContainers")) {
                        for (JsonNode c : pod.path(field)) {
                            String current = c.path("image").asText();
                            String repo = current.replaceFirst(":[^:/]*$", "");
                            if (repo.equals(name)) {
                                String tag = current.substring(repo.length());
                                ((ObjectNode) c).put("image", image.path("newName").asText(repo)
                                        + (image.has("newTag") ? ":" + image.path("newTag").asText() : tag));
                            }
                        }
                    }
                }
            }
            if (k.has("namespace")) {
                for (JsonNode doc : docs) {
                    if (!CLUSTER_SCOPED.contains(doc.path("kind").asText())) {
                        ((ObjectNode) doc.path("metadata")).put("namespace", k.path("namespace").asText());
                    }
                }
            }
            return docs;
        }

        private static boolean matches(JsonNode doc, String kind, String name) {
            return (kind == null || doc.path("kind").asText().equals(kind))
                    && (name == null || doc.path("metadata").path("name").asText().equals(name));
        }

        /** Strategic merge: maps merge, null deletes, lists with a merge key merge by it, other lists are replaced. */
        private static void merge(ObjectNode target, JsonNode patch) {
            for (Iterator<Map.Entry<String, JsonNode>> it = patch.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                JsonNode value = e.getValue();
                JsonNode current = target.get(key);
                if (key.equals("$patch")) {
                    assertThat(value.asText()).as("$patch inside a map").isEqualTo("delete");
                } else if (value.isNull()) {
                    target.remove(key);
                } else if (value.isObject() && current != null && current.isObject()) {
                    merge((ObjectNode) current, value);
                } else if (value.isArray() && current != null && current.isArray() && MERGE_KEYS.containsKey(key)) {
                    mergeList((ArrayNode) current, (ArrayNode) value, MERGE_KEYS.get(key));
                } else {
                    target.set(key, value.deepCopy());
                }
            }
        }

        private static void mergeList(ArrayNode current, ArrayNode patch, String mergeKey) {
            for (JsonNode item : patch) {
                String id = item.path(mergeKey).asText();
                int at = -1;
                for (int i = 0; i < current.size(); i++) {
                    if (current.get(i).path(mergeKey).asText().equals(id)) {
                        at = i;
                    }
                }
                if (item.path("$patch").asText().equals("delete")) {
                    assertThat(at).as("$patch: delete of " + mergeKey + "=" + id + " finds it").isNotNegative();
                    current.remove(at);
                } else if (at >= 0) {
                    merge((ObjectNode) current.get(at), item);
                } else {
                    current.add(item.deepCopy());
                }
            }
        }

        private static void json6902(ObjectNode doc, JsonNode ops) {
            for (JsonNode op : ops) {
                String[] path = op.path("path").asText().substring(1).split("/");
                JsonNode parent = doc;
                for (int i = 0; i < path.length - 1; i++) {
                    parent = parent.isArray() ? parent.get(Integer.parseInt(path[i])) : parent.get(unescape(path[i]));
                    assertThat(parent).as("path " + op.path("path").asText()).isNotNull();
                }
                String last = unescape(path[path.length - 1]);
                switch (op.path("op").asText()) {
                    case "replace", "add" -> {
                        if (parent.isArray()) {
                            ArrayNode a = (ArrayNode) parent;
                            if (last.equals("-")) {
                                a.add(op.path("value").deepCopy());
                            } else if (op.path("op").asText().equals("add")) {
                                a.insert(Integer.parseInt(last), op.path("value").deepCopy());
                            } else {
                                a.set(Integer.parseInt(last), op.path("value").deepCopy());
                            }
                        } else {
                            if (op.path("op").asText().equals("replace")) {
                                assertThat(parent.has(last)).as("replace " + op.path("path").asText()).isTrue();
                            }
                            ((ObjectNode) parent).set(last, op.path("value").deepCopy());
                        }
                    }
                    case "remove" -> {
                        if (parent.isArray()) {
                            ((ArrayNode) parent).remove(Integer.parseInt(last));
                        } else {
                            ((ObjectNode) parent).remove(last);
                        }
                    }
                    default -> fail("JSON 6902 op " + op + " (teach DeployManifestsTest.Kustomize)");
                }
            }
        }

        private static String unescape(String segment) {
            return segment.replace("~1", "/").replace("~0", "~");
        }
    }
}
