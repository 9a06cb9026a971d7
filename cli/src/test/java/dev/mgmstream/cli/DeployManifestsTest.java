package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.mgmstream.cli.TypedManifests.Manifest;
import dev.mgmstream.encoders.EncoderMetrics;
import dev.mgmstream.encoders.EncodersStage;
import dev.mgmstream.generation.GenerationMetrics;
import dev.mgmstream.generation.GenerationStage;
import dev.mgmstream.lake.LakeSettings;
import dev.mgmstream.lake.SinkStage;
import dev.mgmstream.pipeline.config.LayeredConfig;
import dev.mgmstream.pipeline.metrics.StageMetrics;
import dev.mgmstream.pipeline.stage.StageSettings;
import dev.mgmstream.views.ViewsConfig;
import dev.mgmstream.reasoning.ReasoningStage;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PodMonitor;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.kafka.listener.GenericKafkaListener;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import io.strimzi.api.kafka.model.user.KafkaUserAuthorizationSimple;
import io.strimzi.api.kafka.model.user.KafkaUserSpec;
import io.strimzi.api.kafka.model.user.acl.AclOperation;
import io.strimzi.api.kafka.model.user.acl.AclResourcePatternType;
import io.strimzi.api.kafka.model.user.acl.AclRule;
import io.strimzi.api.kafka.model.user.acl.AclRuleGroupResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleTopicResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleTransactionalIdResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
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
 * test also checks that it renders the same as {@code kubectl kustomize}. Every rendered document is then
 * read into its typed model, unknown fields refused ({@link TypedManifests}: fabric8's Kubernetes model,
 * Strimzi's api model, and records for KEDA), and the checks read those typed objects.
 */
class DeployManifestsTest {

    private static final Path HOME = Path.of(System.getProperty("mgm.home", "..")).toAbsolutePath().normalize();
    private static final Path DEPLOY = HOME.resolve("deploy");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What each stage's code reads and writes (its *Stage.java), and which topic its instances scale on. */
    private record StageUse(String stage, TopicRole input, Map<TopicRole, Set<String>> topics, boolean transactional) {
    }

    private static final Set<String> READ = Set.of("Read", "Describe");
    private static final Set<String> WRITE = Set.of("Write", "Describe");

    /** The views stage's StatefulSet (Kafka Streams; not one of {@link #STAGES}). */
    static final String VIEWS = "mgm-views";

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

    // ---------------------------------------------------------------- typed models, unknown fields refused

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyRenderedManifestReadsIntoItsTypedModelWithNoUnknownField(String tree) {
        Rendered d = Rendered.of(tree); // types every document, or fails naming each refused one
        assertThat(d.manifests).hasSameSizeAs(d.docs);
        for (Manifest m : d.manifests) {
            assertThat(m.model()).as(tree + ": " + m.id())
                    .isInstanceOf(TypedManifests.KINDS.get(m.tree().path("apiVersion").asText() + "/" + m.kind()));
            if (m.model() instanceof HasMetadata h) {
                assertThat(h.getMetadata().getName()).as(tree + ": " + m.id()).isEqualTo(m.name());
            }
        }
        // the models cover every kind deploy/ uses: the Kubernetes, Strimzi, KEDA and Prometheus operator kinds
        assertThat(d.manifests.stream().map(Manifest::kind).collect(Collectors.toSet())).as(tree)
                .contains("StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget", "Kafka", "KafkaNodePool",
                        "KafkaTopic", "KafkaUser", "ScaledObject", "TriggerAuthentication", "ServiceMonitor");
    }

    /** A field misspelt (or misplaced) anywhere in a rendered document is refused, naming document and path. */
    @ParameterizedTest(name = "{0}/{1}: {2} -> {3}")
    @CsvSource({
            // fabric8: unknown fields land in additionalProperties, found by the walk
            "StatefulSet,           mgm-encoders,          /spec/template/spec/containers, containres, spec.template.spec.containres",
            "StatefulSet,           mgm-encoders,          /spec/serviceName,              servicename, spec.servicename",
            "StatefulSet,           mgm-reasoning,         /spec/template/spec/containers/0/livenessProbe/httpGet/path, paht, spec.template.spec.containers[0].livenessProbe.httpGet.paht",
            "Service,               mgm-encoders,          /spec/ports,                    port,       spec.port",
            "ConfigMap,             mgm-stage-env,         /data,                          date,       date",
            "PodDisruptionBudget,   mgm-encoders,          /spec/selector,                 selectors,  spec.selectors",
            "ServiceMonitor,        mgm-stages,            /spec/endpoints,                endpoint,   spec.endpoint",
            // Strimzi: the same, in its own additionalProperties
            "KafkaTopic,            mgm-answers,           /spec/partitions,               partition,  spec.partition",
            "KafkaUser,             mgm-encoders,          /spec/authorization/acls/0/operations, opertions, spec.authorization.acls[0].opertions",
            "Kafka,                 mgm,                   /spec/kafka/listeners/0/tls,    TLS,        spec.kafka.listeners[0].TLS",
            // KEDA records: Jackson refuses the field itself
            "ScaledObject,          mgm-encoders,          /spec/maxReplicaCount,          maxReplicas, spec.maxReplicas",
            "ScaledObject,          mgm-sink,              /spec/triggers/0/metadata/consumerGroup, group, spec.triggers[0].metadata: group",
            "TriggerAuthentication, mgm-kafka-keda,        /spec/secretTargetRef,          secretTargetRefs, spec.secretTargetRefs",
    })
    void aMisspeltFieldIsRefusedNamingDocumentAndPath(String kind, String name, String pointer, String misspelt,
            String path) {
        List<JsonNode> docs = new ArrayList<>();
        Rendered.of("base").docs.forEach(doc -> docs.add(doc.deepCopy()));
        JsonNode doc = docs.stream().filter(x -> x.path("kind").asText().equals(kind)
                && x.path("metadata").path("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("base renders no " + kind + "/" + name));
        rename(doc, pointer, misspelt);
        assertThatThrownBy(() -> TypedManifests.type("base", docs))
                .isInstanceOf(TypedManifests.Refused.class)
                .hasMessageContaining("base: " + kind + "/" + name + ": ")
                .hasMessageContaining(path)
                .satisfies(e -> assertThat(e.getMessage().lines()).as("only the altered document").hasSize(1));
    }

    @Test
    void aKindOrApiVersionWithoutATypedModelIsRefusedNamingIt() {
        JsonNode connect = yaml("apiVersion: kafka.strimzi.io/v1\nkind: KafkaConnect\nmetadata: {name: c}\n");
        assertThatThrownBy(() -> TypedManifests.type("test", List.of(connect)))
                .hasMessageContaining("test: KafkaConnect/c: no typed model for apiVersion kafka.strimzi.io/v1 kind KafkaConnect");
        JsonNode old = yaml("apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata: {name: t}\n");
        assertThatThrownBy(() -> TypedManifests.type("test", List.of(old)))
                .hasMessageContaining("no typed model for apiVersion kafka.strimzi.io/v1beta2 kind KafkaTopic");
        // a value of the wrong shape is refused as well
        JsonNode badEnum = yaml("apiVersion: kafka.strimzi.io/v1\nkind: KafkaUser\nmetadata: {name: u}\n"
                + "spec: {authorization: {type: simple, acls: [{resource: {type: topic, name: t}, operations: [Reed]}]}}\n");
        assertThatThrownBy(() -> TypedManifests.type("test", List.of(badEnum)))
                .hasMessageContaining("test: KafkaUser/u: unknown field(s) spec.authorization.acls[0].operations[0]"
                        + " (value \"Reed\" read as nothing)");
        JsonNode badType = yaml("apiVersion: kafka.strimzi.io/v1\nkind: KafkaUser\nmetadata: {name: u}\n"
                + "spec: {authorization: {type: simple, acls: [{type: alow, resource: {type: topic, name: t}, operations: [Read]}]}}\n");
        assertThatThrownBy(() -> TypedManifests.type("test", List.of(badType)))
                .hasMessageContaining("spec.authorization.acls[0].type (value \"alow\" read as nothing)");
        // the overlays' replicas: a StatefulSet's spec.replica (not replicas) is refused too
        JsonNode replica = yaml("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {replica: 2}\n");
        assertThatThrownBy(() -> TypedManifests.type("test", List.of(replica)))
                .hasMessageContaining("test: StatefulSet/s: unknown field(s) spec.replica");
    }

    private static JsonNode yaml(String text) {
        return readAll(text).get(0);
    }

    /** Renames the last field of a JSON pointer in place. */
    private static void rename(JsonNode doc, String pointer, String to) {
        int slash = pointer.lastIndexOf('/');
        JsonNode parent = slash == 0 ? doc : doc.at(pointer.substring(0, slash));
        String field = pointer.substring(slash + 1);
        assertThat(parent.has(field)).as(pointer).isTrue();
        ObjectNode o = (ObjectNode) parent;
        o.set(to, o.remove(field));
    }

    // ---------------------------------------------------------------- the checks, per Kustomize tree

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyTopicOfTheCatalogueHasItsKafkaTopicAndNoOtherTopicExists(String tree) {
        Rendered d = Rendered.of(tree);
        TopicCatalogue catalogue = d.catalogue();
        Map<String, KafkaTopic> topics = new TreeMap<>();
        for (KafkaTopic t : d.all(KafkaTopic.class)) {
            assertThat(topics.put(topicName(t), t)).as(tree + ": one KafkaTopic for " + topicName(t)).isNull();
        }
        for (TopicSpec spec : catalogue.all()) {
            KafkaTopic t = topics.remove(spec.name());
            assertThat(t).as(tree + ": a KafkaTopic for " + spec.name()).isNotNull();
            assertThat(t.getSpec().getPartitions()).as(tree + ": partitions of " + spec.name())
                    .isEqualTo(spec.partitions());
            assertThat(t.getSpec().getReplicas()).as(tree + ": replicas of " + spec.name())
                    .isEqualTo(spec.replicationFactor());
            assertThat(topicConfig(t)).as(tree + ": config of " + spec.name()).isEqualTo(new TreeMap<>(spec.configs()));
        }
        // The schema registry's own topic is the only one outside the catalogue.
        assertThat(topics.keySet()).as(tree + ": KafkaTopics for topics the catalogue does not know")
                .containsExactly(d.registryTopic());
        KafkaTopic schemas = topics.get(d.registryTopic());
        assertThat(schemas.getSpec().getPartitions()).isEqualTo(1);
        assertThat(topicConfig(schemas).get("cleanup.policy")).isEqualTo("compact");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyStrimziResourceBelongsToTheOneKafkaAndTheClientsFindIt(String tree) {
        Rendered d = Rendered.of(tree);
        assertThat(d.all(Kafka.class)).as(tree + ": one Kafka").hasSize(1);
        Kafka kafka = d.all(Kafka.class).get(0);
        String cluster = kafka.getMetadata().getName();
        List<HasMetadata> owned = new ArrayList<>();
        owned.addAll(d.all(KafkaNodePool.class));
        owned.addAll(d.all(KafkaTopic.class));
        owned.addAll(d.all(KafkaUser.class));
        for (HasMetadata r : owned) {
            assertThat(r.getMetadata().getLabels()).as(tree + ": " + r.getKind() + " " + r.getMetadata().getName()
                    + "'s cluster").containsEntry("strimzi.io/cluster", cluster);
        }
        // Strimzi's names for the bootstrap Service (port 9093: the TLS listener) and the CA secret
        String bootstrap = cluster + "-kafka-bootstrap:9093";
        for (StageUse use : STAGES) {
            Map<String, String> config = d.stageConfig(use.stage());
            assertThat(config.get("bootstrap.servers")).as(tree + ": " + use.stage()).isEqualTo(bootstrap);
            assertThat(env(d.stageContainer(d.statefulSetOf(use.stage())), "MGM_KAFKA_SSL_TRUSTSTORE_PASSWORD")
                    .getValueFrom().getSecretKeyRef().getName()).isEqualTo(cluster + "-cluster-ca-cert");
        }
        assertThat(d.registryEnv("KARAPACE_BOOTSTRAP_URI")).isEqualTo(bootstrap);
        List<GenericKafkaListener> listeners = kafka.getSpec().getKafka().getListeners();
        assertThat(listeners).as(tree + ": one listener, TLS with SCRAM").hasSize(1);
        assertThat(listeners.get(0).getPort()).isEqualTo(9093);
        assertThat(listeners.get(0).isTls()).isTrue();
        assertThat(listeners.get(0).getAuth().getType()).isEqualTo("scram-sha-512");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyStageSeesTheSameCatalogue(String tree) {
        Rendered d = Rendered.of(tree);
        for (StageUse use : STAGES) {
            assertThat(TopicCatalogue.fromConfig(d.stageConfig(use.stage())).all())
                    .as(tree + ": the catalogue as the " + use.stage() + " stage configures it")
                    .isEqualTo(d.catalogue().all());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void eachKafkaUserHasExactlyTheAclsItsClientNeeds(String tree) {
        Rendered d = Rendered.of(tree);
        TopicCatalogue catalogue = d.catalogue();
        Set<String> users = new TreeSet<>();
        d.all(KafkaUser.class).forEach(u -> users.add(u.getMetadata().getName()));
        Set<String> groups = new HashSet<>();
        for (StageUse use : STAGES) {
            String user = d.stageUser(use.stage());
            assertThat(users.remove(user)).as(tree + ": the " + use.stage() + " stage's KafkaUser " + user).isTrue();
            KafkaUserSpec spec = d.get(KafkaUser.class, user).getSpec();
            assertThat(spec.getAuthentication().getType()).isEqualTo("scram-sha-512");
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
        assertThat(acls(d.get(KafkaUser.class, "mgm-keda").getSpec())).as(tree + ": ACLs of mgm-keda").isEqualTo(keda);
        // The registry touches only its own topic and group.
        assertThat(users.remove("mgm-schema-registry")).as(tree + ": the schema registry's KafkaUser").isTrue();
        for (String a : acls(d.get(KafkaUser.class, "mgm-schema-registry").getSpec())) {
            assertThat(a).as(tree + ": registry ACL").matches("(topic " + Pattern.quote(d.registryTopic()) + "|group "
                    + Pattern.quote(d.registryEnv("KARAPACE_GROUP_ID")) + ") literal \\w+");
        }
        // A client application submits tasks and reads answers by assigned partitions (mgm run, publish, results).
        assertThat(users.remove("mgm-client")).as(tree + ": the client applications' KafkaUser").isTrue();
        assertThat(acls(d.get(KafkaUser.class, "mgm-client").getSpec())).as(tree + ": ACLs of mgm-client").isEqualTo(
                new TreeSet<>(Set.of(acl("topic", catalogue.name(TopicRole.IMAGE_TASKS), "literal", "Write"),
                        acl("topic", catalogue.name(TopicRole.IMAGE_TASKS), "literal", "Describe"),
                        acl("topic", catalogue.name(TopicRole.ANSWERS), "literal", "Read"),
                        acl("topic", catalogue.name(TopicRole.ANSWERS), "literal", "Describe"))));
        assertThat(groups).as("stages' groups differ from the registry's").doesNotContain(d.registryEnv("KARAPACE_GROUP_ID"));
        // The views (Kafka Streams): reads what every stage writes, writes captions, owns its internal topics.
        assertThat(users.remove("mgm-views")).as(tree + ": the views stage's KafkaUser").isTrue();
        String app = new ViewsConfig(Map.of()).applicationId();
        Set<String> views = new TreeSet<>();
        for (TopicRole role : TopicRole.values()) {
            if (role == TopicRole.IMAGE_TASKS || role == TopicRole.VISUAL_TOKENS || role == TopicRole.ANSWERS
                    || role == TopicRole.GENERATED_IMAGES || role.deadLetter()) {
                views.add(acl("topic", catalogue.name(role), "literal", "Read"));
                views.add(acl("topic", catalogue.name(role), "literal", "Describe"));
            }
        }
        views.add(acl("topic", catalogue.name(TopicRole.CAPTIONS), "literal", "Write"));
        views.add(acl("topic", catalogue.name(TopicRole.CAPTIONS), "literal", "Describe"));
        for (String op : List.of("Create", "Read", "Write", "Describe", "DescribeConfigs", "Delete")) {
            views.add(acl("topic", app + "-", "prefix", op));
        }
        views.add(acl("group", app, "literal", "Read"));
        views.add(acl("group", app, "literal", "Describe"));
        views.add(acl("transactionalId", app + "-", "prefix", "Write"));
        views.add(acl("transactionalId", app + "-", "prefix", "Describe"));
        assertThat(acls(d.get(KafkaUser.class, "mgm-views").getSpec())).as(tree + ": ACLs of mgm-views").isEqualTo(views);
        assertThat(users).as(tree + ": KafkaUsers nobody uses").isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void eachStageScalesOnItsInputWithinItsPartitions(String tree) {
        Rendered d = Rendered.of(tree);
        Set<String> targets = new TreeSet<>();
        for (Keda.ScaledObject so : d.all(Keda.ScaledObject.class)) {
            Keda.ScaledObjectSpec spec = so.spec();
            assertThat(spec.scaleTargetRef().kind()).isEqualTo("StatefulSet");
            String target = spec.scaleTargetRef().name();
            assertThat(targets.add(target)).as(tree + ": one ScaledObject for " + target).isTrue();
            StageUse use = d.stageOf(target);
            assertThat(spec.triggers()).hasSize(1);
            Keda.Trigger trigger = spec.triggers().get(0);
            assertThat(trigger.type()).isEqualTo("kafka");
            Keda.KafkaScaler meta = TypedManifests.MAPPER.convertValue(trigger.metadata(), Keda.KafkaScaler.class);
            TopicSpec input = d.catalogue().spec(use.input());
            assertThat(meta.topic()).as(tree + ": " + target + " scales on").isEqualTo(input.name());
            assertThat(meta.consumerGroup()).as(tree + ": " + target + "'s group")
                    .isEqualTo(groupOf(use.stage(), d.stageConfig(use.stage())));
            assertThat(meta.bootstrapServers()).isEqualTo(d.stageConfig(use.stage()).get("bootstrap.servers"));
            int partitions = d.kafkaTopic(input.name()).getSpec().getPartitions();
            assertThat(spec.maxReplicaCount()).as(tree + ": " + target + "'s maxReplicaCount")
                    .isNotNull().isBetween(1, partitions);
            assertThat(Objects.requireNonNullElse(spec.minReplicaCount(), 0)).isBetween(1, spec.maxReplicaCount());
            assertThat(d.get(Keda.TriggerAuthentication.class, trigger.authenticationRef().name()))
                    .as(tree + ": " + target + "'s TriggerAuthentication").isNotNull();
        }
        assertThat(targets).as(tree + ": ScaledObjects").isEqualTo(d.stageStatefulSets().keySet());
    }

    /** KEDA logs in with secrets that exist: rendered here, or made by Strimzi for a KafkaUser or the cluster CA. */
    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void kedasTriggerAuthenticationReadsSecretsThatExist(String tree) {
        Rendered d = Rendered.of(tree);
        String cluster = d.all(Kafka.class).get(0).getMetadata().getName();
        for (Keda.TriggerAuthentication auth : d.all(Keda.TriggerAuthentication.class)) {
            Map<String, Keda.TargetRef> byParameter = new TreeMap<>();
            auth.spec().secretTargetRef().forEach(r -> byParameter.put(r.parameter(), r));
            assertThat(byParameter.keySet()).as(tree + ": " + auth.metadata().getName())
                    .containsExactlyInAnyOrder("username", "password", "ca");
            for (Keda.TargetRef ref : auth.spec().secretTargetRef()) {
                Secret secret = d.get(Secret.class, ref.name());
                KafkaUser user = d.get(KafkaUser.class, ref.name());
                if (secret != null) {
                    Map<String, String> data = new TreeMap<>();
                    if (secret.getStringData() != null) {
                        data.putAll(secret.getStringData());
                    }
                    if (secret.getData() != null) {
                        data.putAll(secret.getData());
                    }
                    assertThat(data).as(tree + ": secret " + ref.name()).containsKey(ref.key());
                } else if (user != null) {
                    assertThat(ref.key()).as(tree + ": Strimzi's user secret " + ref.name()).isEqualTo("password");
                } else {
                    assertThat(ref.name()).as(tree + ": secret " + ref.name()).isEqualTo(cluster + "-cluster-ca-cert");
                    assertThat(ref.key()).isEqualTo("ca.crt");
                }
            }
            // the username is the KafkaUser whose password is read
            String password = byParameter.get("password").name();
            assertThat(d.get(KafkaUser.class, password)).as(tree + ": KafkaUser " + password).isNotNull();
            Keda.TargetRef username = byParameter.get("username");
            assertThat(d.get(Secret.class, username.name()).getStringData().get(username.key())).isEqualTo(password);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyStatefulSetIsAStageNamedByItsPodWithHealthProbesAndABudget(String tree) {
        Rendered d = Rendered.of(tree);
        assertThat(d.all(StatefulSet.class)).as(tree + ": every StatefulSet is a stage or the views")
                .hasSize(STAGES.size() + 1);
        assertThat(d.stageStatefulSets().keySet()).hasSize(STAGES.size());
        for (StatefulSet sts : d.stageStatefulSets().values()) {
            String name = sts.getMetadata().getName();
            PodSpec pod = sts.getSpec().getTemplate().getSpec();
            Container c = d.stageContainer(sts);
            List<String> args = c.getArgs();
            assertThat(args).as(tree + ": " + name + " runs `mgm stage`").startsWith("stage");
            assertThat(args).as(tree + ": " + name + ": the instance id comes from the pod name, not a flag")
                    .doesNotContain("--instance");
            EnvVar instance = env(c, "MGM_STAGE_INSTANCE_ID");
            assertThat(instance.getValueFrom().getFieldRef().getFieldPath())
                    .as(tree + ": " + name + " sets stage.instance.id from the pod name").isEqualTo("metadata.name");
            assertThat(sts.getSpec().getServiceName()).isNotEmpty();
            String port = d.stageConfig(d.stageOf(name).stage()).get("metrics.port");
            ContainerPort metricsPort = c.getPorts().stream().filter(p -> "metrics".equals(p.getName()))
                    .reduce((a, b) -> b).orElse(null);
            assertThat(metricsPort).as(tree + ": " + name + " names its metrics port").isNotNull();
            assertThat(String.valueOf(metricsPort.getContainerPort())).as("metrics.port").isEqualTo(port);
            assertProbe(c.getLivenessProbe(), "/health/live", tree + ": " + name + " liveness");
            assertProbe(c.getReadinessProbe(), "/health/ready", tree + ": " + name + " readiness");
            assertProbe(c.getStartupProbe(), "/health/live", tree + ": " + name + " startup");
            // the stage logs in as its own user, which must exist
            String jaas = env(c, "MGM_KAFKA_SASL_JAAS_CONFIG").getValueFrom().getSecretKeyRef().getName();
            assertThat(jaas).isEqualTo(d.stageUser(d.stageOf(name).stage()));
            assertThat(d.get(KafkaUser.class, jaas)).isNotNull();
            // every mounted volume is declared, every claim exists
            Set<String> volumes = new HashSet<>();
            for (Volume v : pod.getVolumes()) {
                volumes.add(v.getName());
                if (v.getPersistentVolumeClaim() != null) {
                    assertThat(d.get(PersistentVolumeClaim.class, v.getPersistentVolumeClaim().getClaimName()))
                            .as(tree + ": " + name + "'s claim").isNotNull();
                }
            }
            sts.getSpec().getVolumeClaimTemplates().forEach(v -> volumes.add(v.getMetadata().getName()));
            c.getVolumeMounts().forEach(m -> assertThat(volumes).as(tree + ": " + name + "'s volumes")
                    .contains(m.getName()));
            pod.getInitContainers().forEach(init -> init.getVolumeMounts().forEach(m ->
                    assertThat(volumes).as(tree + ": " + name + "'s volumes (init containers)")
                            .contains(m.getName())));
            long budgets = d.all(PodDisruptionBudget.class).stream()
                    .filter(p -> Objects.equals(p.getSpec().getSelector().getMatchLabels(),
                            sts.getSpec().getSelector().getMatchLabels()))
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
        Rendered d = Rendered.of(tree);
        for (StatefulSet sts : d.all(StatefulSet.class)) {
            String name = sts.getMetadata().getName();
            Container c = d.stageContainer(sts);
            assertThat(c.getImage()).as(tree + ": " + name + "'s image").isEqualTo(image);
            assertThat(c.getCommand()).as(tree + ": " + name + " keeps the image's entry point (mgm)").isNullOrEmpty();
            var pod = sts.getSpec().getTemplate().getSpec();
            Long uid = pod.getSecurityContext() == null ? null : pod.getSecurityContext().getRunAsUser();
            assertThat(uid).as(tree + ": " + name + " runs as the image's non-root user").isEqualTo(65532L);
            for (var e : c.getEnv()) {
                if (e.getName().matches("MGM_[A-Z]+_MODEL_DIRS?")) {
                    String dir = e.getValue();
                    boolean onVolume = c.getVolumeMounts().stream().anyMatch(m -> dir.startsWith(m.getMountPath() + "/"));
                    assertThat(onVolume).as(tree + ": " + name + "'s " + dir + " is on a volume, not in the image").isTrue();
                }
            }
            for (Container init : pod.getInitContainers()) {
                assertThat(init.getImage()).as(tree + ": " + name + "'s init container").isEqualTo(modelsImage);
            }
        }
    }

    /**
     * The views stage: its pod name is its instance id and, under the headless Service, the address other
     * instances forward queries to; its stores live on a volume of its own; more than one replica, so the
     * standbys have somewhere to be; probes and metrics on the port the ServiceMonitor scrapes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void theViewsStageAnswersForEveryKeyFromStableNamesAndKeepsItsStores(String tree) {
        Rendered d = Rendered.of(tree);
        StatefulSet sts = d.get(StatefulSet.class, VIEWS);
        assertThat(sts).as(tree + ": the views StatefulSet").isNotNull();
        Container c = d.stageContainer(sts);
        assertThat(c.getArgs()).startsWith("stage", "views");
        assertThat(env(c, "MGM_STAGE_INSTANCE_ID").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.name");
        String service = sts.getSpec().getServiceName();
        Service headless = d.get(Service.class, service);
        assertThat(headless.getSpec().getClusterIP()).as(tree + ": a headless Service names the pods").isEqualTo("None");
        assertThat(env(c, "MGM_VIEWS_ADVERTISED_HOST").getValue()).isEqualTo("$(MGM_STAGE_INSTANCE_ID)." + service);
        String port = env(c, "MGM_VIEWS_HTTP_PORT").getValue();
        ContainerPort metrics = c.getPorts().stream().filter(p -> "metrics".equals(p.getName())).findFirst().orElseThrow();
        assertThat(String.valueOf(metrics.getContainerPort())).isEqualTo(port);
        assertProbe(c.getLivenessProbe(), "/health/live", tree + ": views liveness");
        assertProbe(c.getReadinessProbe(), "/health/ready", tree + ": views readiness");
        String state = env(c, "MGM_VIEWS_STATE_DIR").getValue();
        String volume = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(state)).findFirst()
                .orElseThrow(() -> new AssertionError(tree + ": the views' state dir is not mounted")).getName();
        assertThat(sts.getSpec().getVolumeClaimTemplates()).as(tree + ": the stores on a volume of the pod's own")
                .anyMatch(v -> v.getMetadata().getName().equals(volume));
        assertThat(sts.getSpec().getReplicas()).as(tree + ": a standby needs a second instance")
                .isGreaterThan(Integer.parseInt(ViewsConfig.STANDBY_REPLICAS.defaultValue()));
        assertThat(env(c, "MGM_KAFKA_SASL_JAAS_CONFIG").getValueFrom().getSecretKeyRef().getName()).isEqualTo("mgm-views");
        assertThat(d.all(PodDisruptionBudget.class)).anyMatch(p -> Objects.equals(p.getSpec().getSelector().getMatchLabels(),
                sts.getSpec().getSelector().getMatchLabels()));
        assertThat(headless.getMetadata().getLabels()).as(tree + ": the ServiceMonitor scrapes the views")
                .containsEntry("app.kubernetes.io/component", "stage");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/dev", "overlays/gpu"})
    void everyConfigurationKeyIsOneTheCodeReads(String tree) throws IOException {
        Rendered d = Rendered.of(tree);
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
        Rendered d = Rendered.of(tree);
        for (StageUse use : STAGES) {
            StatefulSet sts = d.statefulSetOf(use.stage());
            Container c = d.stageContainer(sts);
            PodSpec pod = sts.getSpec().getTemplate().getSpec();
            Map<String, Quantity> limits = c.getResources() == null || c.getResources().getLimits() == null
                    ? Map.of() : c.getResources().getLimits();
            if (use.stage().equals("sink")) {
                assertThat(limits).doesNotContainKey("nvidia.com/gpu");
                continue;
            }
            assertThat(limits.get("nvidia.com/gpu")).as(use.stage() + "'s GPU limit").isEqualTo(new Quantity("1"));
            Map<String, Quantity> requests = c.getResources().getRequests();
            if (requests != null && requests.containsKey("nvidia.com/gpu")) {
                assertThat(requests.get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
            }
            assertThat(pod.getNodeSelector()).isNotEmpty();
            assertThat(pod.getTolerations()).extracting(Toleration::getKey).contains("nvidia.com/gpu");
            Map<String, String> config = d.stageConfig(use.stage());
            String provider = config.get(use.stage() + ".engine.provider");
            assertThat(provider).isIn("cuda", "tensorrt");
            if (provider.equals("tensorrt")) {
                String cache = config.get(use.stage() + ".engine.trt.cache.dir");
                assertThat(cache).as(use.stage() + ": a TensorRT engine cache").isNotBlank();
                String volume = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(cache))
                        .map(VolumeMount::getName).reduce((a, b) -> b).orElse(null);
                assertThat(sts.getSpec().getVolumeClaimTemplates()).extracting(v -> v.getMetadata().getName())
                        .as(use.stage() + ": the engine cache is a volume of the pod's own").contains(volume);
            }
        }
    }

    @Test
    void serviceMonitorScrapesEveryStagesMetricsPort() {
        Rendered d = Rendered.of("base");
        ServiceMonitor monitor = d.get(ServiceMonitor.class, "mgm-stages");
        Map<String, String> selector = monitor.getSpec().getSelector().getMatchLabels();
        String port = monitor.getSpec().getEndpoints().get(0).getPort();
        for (StatefulSet sts : d.stageStatefulSets().values()) {
            Service service = d.get(Service.class, sts.getSpec().getServiceName());
            assertThat(service).isNotNull();
            assertThat(service.getMetadata().getLabels()).as("ServiceMonitor selects " + service.getMetadata().getName())
                    .containsAllEntriesOf(selector);
            assertThat(service.getSpec().getPorts()).extracting(ServicePort::getName).contains(port);
        }
    }

    /** The Kafka Exporter's PodMonitor selects the exporter Strimzi runs for the one Kafka, which has one. */
    @Test
    void podMonitorScrapesTheKafkaExporterOfTheKafka() {
        Rendered d = Rendered.of("base");
        Kafka kafka = d.all(Kafka.class).get(0);
        assertThat(kafka.getSpec().getKafkaExporter()).as("the Kafka runs a Kafka Exporter").isNotNull();
        List<PodMonitor> monitors = d.all(PodMonitor.class);
        assertThat(monitors).hasSize(1);
        assertThat(monitors.get(0).getSpec().getSelector().getMatchLabels())
                .containsEntry("strimzi.io/name", kafka.getMetadata().getName() + "-kafka-exporter");
        assertThat(monitors.get(0).getSpec().getPodMetricsEndpoints()).extracting(e -> e.getPort())
                .containsExactly("tcp-prometheus");
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
        ConfigMap generated = Rendered.of("base").get(ConfigMap.class, "mgm-grafana-dashboard");
        assertThat(JSON.readTree(generated.getData().get("grafana-dashboard.json"))).isEqualTo(dashboard);
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
        Map<String, JsonNode> ours = byId(Rendered.of(tree).docs);
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

    private static String topicName(KafkaTopic t) {
        return t.getSpec().getTopicName() != null ? t.getSpec().getTopicName() : t.getMetadata().getName();
    }

    private static Map<String, String> topicConfig(KafkaTopic t) {
        Map<String, String> config = new TreeMap<>();
        if (t.getSpec().getConfig() != null) {
            t.getSpec().getConfig().forEach((k, v) -> config.put(k, String.valueOf(v)));
        }
        return config;
    }

    private static String acl(String type, String name, String pattern, String op) {
        return type + " " + name + " " + pattern + " " + op;
    }

    private static Set<String> acls(KafkaUserSpec userSpec) {
        assertThat(userSpec.getAuthorization()).isInstanceOf(KafkaUserAuthorizationSimple.class);
        Set<String> acls = new TreeSet<>();
        for (AclRule a : ((KafkaUserAuthorizationSimple) userSpec.getAuthorization()).getAcls()) {
            assertThat(a.getType() == null ? AclRuleType.ALLOW : a.getType()).isEqualTo(AclRuleType.ALLOW);
            AclRuleResource r = a.getResource();
            String name;
            AclResourcePatternType pattern;
            if (r instanceof AclRuleTopicResource t) {
                name = t.getName();
                pattern = t.getPatternType();
            } else if (r instanceof AclRuleGroupResource g) {
                name = g.getName();
                pattern = g.getPatternType();
            } else if (r instanceof AclRuleTransactionalIdResource x) {
                name = x.getName();
                pattern = x.getPatternType();
            } else {
                name = "";
                pattern = null;
            }
            List<AclOperation> ops = new ArrayList<>();
            if (a.getOperations() != null) {
                ops.addAll(a.getOperations());
            }
            if (a.getOperation() != null) {
                ops.add(a.getOperation());
            }
            for (AclOperation op : ops) {
                acls.add(acl(r.getType(), name, pattern == null ? "literal" : pattern.toValue(), op.toValue()));
            }
        }
        return acls;
    }

    private static void assertProbe(Probe probe, String path, String what) {
        assertThat(probe).as(what).isNotNull();
        assertThat(probe.getHttpGet()).as(what + " is an HTTP GET").isNotNull();
        assertThat(probe.getHttpGet().getPath()).as(what).isEqualTo(path);
        assertThat(probe.getHttpGet().getPort().getStrVal()).as(what + " port").isEqualTo("metrics");
    }

    private static EnvVar env(Container container, String name) {
        for (EnvVar e : container.getEnv()) {
            if (e.getName().equals(name)) {
                return e;
            }
        }
        return fail(container.getName() + " has no " + name);
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

    /** One Kustomize tree, rendered: its documents as trees, and as typed models (unknown fields refused). */
    private static final class Rendered {

        private static final Map<String, Rendered> RENDERED = new HashMap<>();

        final List<JsonNode> docs;
        final List<Manifest> manifests;

        private Rendered(String tree, List<JsonNode> docs) {
            this.docs = docs;
            this.manifests = TypedManifests.type(tree, docs);
        }

        static synchronized Rendered of(String tree) {
            return RENDERED.computeIfAbsent(tree, t -> new Rendered(t, Kustomize.render(DEPLOY.resolve(t))));
        }

        <T> List<T> all(Class<T> type) {
            return manifests.stream().map(Manifest::model).filter(type::isInstance).map(type::cast).toList();
        }

        /** The document of that type and name, or null. */
        <T> T get(Class<T> type, String name) {
            return manifests.stream().filter(m -> type.isInstance(m.model()) && m.name().equals(name))
                    .map(m -> type.cast(m.model())).findFirst().orElse(null);
        }

        KafkaTopic kafkaTopic(String topic) {
            return all(KafkaTopic.class).stream().filter(t -> topicName(t).equals(topic))
                    .findFirst().orElseThrow(() -> new AssertionError("no KafkaTopic for " + topic));
        }

        /**
         * The pipeline stages' StatefulSets by name (everyStatefulSetIsAStage... checks each runs {@code mgm stage});
         * the views stage, a Kafka Streams application with its own checks, is not among them.
         */
        Map<String, StatefulSet> stageStatefulSets() {
            Map<String, StatefulSet> m = new TreeMap<>();
            all(StatefulSet.class).stream().filter(s -> !s.getMetadata().getName().equals(VIEWS))
                    .forEach(s -> m.put(s.getMetadata().getName(), s));
            return m;
        }

        Container stageContainer(StatefulSet sts) {
            for (Container c : sts.getSpec().getTemplate().getSpec().getContainers()) {
                List<String> args = c.getArgs();
                if (args.size() >= 2 && args.get(0).equals("stage")) {
                    return c;
                }
            }
            return fail(sts.getMetadata().getName() + " has no container running `mgm stage`");
        }

        StageUse stageOf(String statefulSet) {
            StatefulSet sts = stageStatefulSets().get(statefulSet);
            assertThat(sts).as("StatefulSet " + statefulSet).isNotNull();
            String stage = stageContainer(sts).getArgs().get(1);
            return STAGES.stream().filter(s -> s.stage().equals(stage)).findFirst()
                    .orElseThrow(() -> new AssertionError(statefulSet + " runs an unknown stage " + stage));
        }

        StatefulSet statefulSetOf(String stage) {
            return stageStatefulSets().entrySet().stream().filter(e -> stageOf(e.getKey()).stage().equals(stage))
                    .map(Map.Entry::getValue).findFirst()
                    .orElseThrow(() -> new AssertionError("no StatefulSet runs the " + stage + " stage"));
        }

        String stageUser(String stage) {
            Container c = stageContainer(statefulSetOf(stage));
            return env(c, "MGM_KAFKA_SASL_JAAS_CONFIG").getValueFrom().getSecretKeyRef().getName();
        }

        /** The stage's environment as its container gets it: envFrom ConfigMaps, then env values. */
        Map<String, String> stageEnv(String stage) {
            Container c = stageContainer(statefulSetOf(stage));
            Map<String, String> env = new LinkedHashMap<>();
            for (EnvFromSource from : c.getEnvFrom()) {
                if (from.getConfigMapRef() != null) {
                    ConfigMap cm = get(ConfigMap.class, from.getConfigMapRef().getName());
                    assertThat(cm).as(stage + "'s ConfigMap " + from.getConfigMapRef().getName()).isNotNull();
                    env.putAll(cm.getData());
                }
            }
            for (EnvVar e : c.getEnv()) {
                if (e.getValue() != null) {
                    env.put(e.getName(), e.getValue());
                } else {
                    env.put(e.getName(), "(from " + source(e.getValueFrom()) + ")");
                }
            }
            return env;
        }

        private static String source(EnvVarSource s) {
            return s == null ? "nothing" : s.getSecretKeyRef() != null ? "secretKeyRef"
                    : s.getConfigMapKeyRef() != null ? "configMapKeyRef"
                    : s.getFieldRef() != null ? "fieldRef" : "resourceFieldRef";
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
            StatefulSet sts = statefulSetOf(stage);
            for (VolumeMount m : stageContainer(sts).getVolumeMounts()) {
                String dir = m.getMountPath();
                if (file.startsWith(dir + "/")) {
                    for (Volume v : sts.getSpec().getTemplate().getSpec().getVolumes()) {
                        if (v.getName().equals(m.getName()) && v.getConfigMap() != null) {
                            ConfigMap cm = get(ConfigMap.class, v.getConfigMap().getName());
                            assertThat(cm).as(stage + ": ConfigMap " + v.getConfigMap().getName()).isNotNull();
                            String text = cm.getData().get(file.substring(dir.length() + 1));
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
            io.fabric8.kubernetes.api.model.apps.Deployment registry =
                    get(io.fabric8.kubernetes.api.model.apps.Deployment.class, "mgm-schema-registry");
            assertThat(registry).as("the schema registry's Deployment").isNotNull();
            return env(registry.getSpec().getTemplate().getSpec().getContainers().get(0), name).getValue();
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
