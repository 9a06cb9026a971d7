package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.mgmstream.devkit.kafka.EmbeddedKafka;
import dev.mgmstream.devkit.registry.InProcessSchemaRegistry;
import dev.mgmstream.devkit.tls.LocalCertificates;
import dev.mgmstream.pipeline.kafka.TopicProvisioner;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline on a secured Kafka, as deploy/ sets it up: the in-process broker with a SASL_SSL listener
 * (SCRAM-SHA-512 over TLS with a certificate made for the test), the standard authorizer, and exactly the
 * KafkaUsers and ACLs of {@code deploy/base/kafka/users.yaml}. Each stage runs as a process of its own under
 * its own user, {@code mgm run} submits a task file as the client user, and every task gets its answer, which
 * the views stage (Kafka Streams, its internal topics and transactions under its own ACLs) reports; a stage
 * started with another stage's user is refused and stops with an error that says so.
 *
 * <p>The broker's PLAINTEXT listener stays for the test itself (topics, users and ACLs are created there as
 * the super user, as Strimzi's operators would) and for the in-process registry; no stage or client uses it.
 */
class SecuredPipelineTest {

    private static final String STORE_PASSWORD = "test-store-secret";
    private static final Path USERS = Home.dir().resolve("deploy").resolve("base").resolve("kafka").resolve("users.yaml");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static EmbeddedKafka kafka;
    static InProcessSchemaRegistry registry;
    static String secured;
    static LocalCertificates tls;
    static final Map<String, String> passwords = new HashMap<>();

    private final MgmProcesses processes = new MgmProcesses();

    @BeforeAll
    static void securedCluster() throws Exception {
        tls = LocalCertificates.create(dir, "localhost", "dns:localhost,ip:127.0.0.1", STORE_PASSWORD);
        int port = freePort();
        String l = "listener.name.sasl_ssl.";
        kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults()
                .withListener("SASL_SSL", port, "SASL_SSL")
                .withBrokerProperty("sasl.enabled.mechanisms", "SCRAM-SHA-512")
                .withBrokerProperty(l + "sasl.enabled.mechanisms", "SCRAM-SHA-512")
                .withBrokerProperty(l + "scram-sha-512.sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;")
                .withBrokerProperty(l + "ssl.keystore.location", tls.keyStore().toString())
                .withBrokerProperty(l + "ssl.keystore.password", STORE_PASSWORD)
                .withBrokerProperty(l + "ssl.key.password", STORE_PASSWORD)
                .withBrokerProperty(l + "ssl.keystore.type", "PKCS12")
                .withBrokerProperty("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer")
                // the PLAINTEXT and controller listeners' principal: the broker itself and the operators' stand-in
                .withBrokerProperty("super.users", "User:ANONYMOUS"));
        secured = "localhost:" + port;
        registry = InProcessSchemaRegistry.start(kafka.bootstrapServers(), 0);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            new TopicProvisioner(admin).ensure(TopicCatalogue.defaults().all());
            List<UserScramCredentialUpsertion> users = new ArrayList<>();
            List<AclBinding> acls = new ArrayList<>();
            for (JsonNode user : kafkaUsers()) {
                String name = user.path("metadata").path("name").asText();
                String password = UUID.randomUUID().toString();
                passwords.put(name, password);
                users.add(new UserScramCredentialUpsertion(name,
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password));
                for (JsonNode acl : user.path("spec").path("authorization").path("acls")) {
                    JsonNode r = acl.path("resource");
                    ResourcePattern pattern = new ResourcePattern(
                            ResourceType.valueOf(r.path("type").asText().replaceAll("([a-z])([A-Z])", "$1_$2")
                                    .toUpperCase(Locale.ROOT)),
                            r.path("name").asText(),
                            // Strimzi's "prefix" is Kafka's PREFIXED
                            r.path("patternType").asText("literal").equals("prefix") ? PatternType.PREFIXED
                                    : PatternType.valueOf(r.path("patternType").asText("literal").toUpperCase(Locale.ROOT)));
                    for (JsonNode op : acl.path("operations")) {
                        acls.add(new AclBinding(pattern, new AccessControlEntry("User:" + name, "*",
                                AclOperation.valueOf(op.asText().replaceAll("([a-z])([A-Z])", "$1_$2")
                                        .toUpperCase(Locale.ROOT)), AclPermissionType.ALLOW)));
                    }
                }
            }
            admin.alterUserScramCredentials(List.copyOf(users)).all().get(1, TimeUnit.MINUTES);
            admin.createAcls(acls).all().get(1, TimeUnit.MINUTES);
        }
        assertThat(passwords).containsKeys("mgm-encoders", "mgm-reasoning", "mgm-sink", "mgm-client");
    }

    static List<JsonNode> kafkaUsers() throws IOException {
        List<JsonNode> users = new ArrayList<>();
        try (MappingIterator<JsonNode> docs = new ObjectMapper(new YAMLFactory()).readerFor(JsonNode.class)
                .readValues(USERS.toFile())) {
            while (docs.hasNext()) {
                JsonNode d = docs.next();
                if (d != null && "KafkaUser".equals(d.path("kind").asText())) {
                    users.add(d);
                }
            }
        }
        return users;
    }

    @AfterAll
    static void stop() {
        if (registry != null) {
            registry.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @AfterEach
    void stopProcesses() {
        processes.close();
    }

    /** The settings that make every Kafka client of a command connect as {@code user}. */
    static List<String> as(String user) {
        return List.of(
                "--bootstrap-servers", secured, "--schema-registry", registry.url(),
                "--set", "kafka.security.protocol=SASL_SSL",
                "--set", "kafka.sasl.mechanism=SCRAM-SHA-512",
                "--set", "kafka.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                        + "username=\"" + user + "\" password=\"" + passwords.get(user) + "\";",
                "--set", "kafka.ssl.truststore.location=" + tls.trustStore(),
                "--set", "kafka.ssl.truststore.password=" + STORE_PASSWORD,
                "--set", "kafka.ssl.truststore.type=PKCS12");
    }

    private Process stage(String which, String user) throws IOException {
        List<String> args = new ArrayList<>(List.of("stage", which, "--instance", which + "-0"));
        args.addAll(as(user));
        args.addAll(List.of(
                "--set", "reasoning.generate.output=answer",
                "--set", "encoders.tokens.store.uri=" + dir.resolve("visual-tokens"),
                "--set", "reasoning.claim.check.roots=" + dir.resolve("visual-tokens"),
                "--set", "encoders.source.s3.enabled=false",
                "--set", "stage.batch.linger.ms=50", "--set", "sink.commit.interval.ms=2000",
                "--set", "lake.warehouse=" + dir.resolve("lake")));
        return processes.start(dir, which + "-as-" + user, args.toArray(String[]::new));
    }

    @Test
    void eachStageRunsAsItsOwnUserAndEveryTaskIsAnswered() throws Exception {
        stage("encoders", "mgm-encoders");
        stage("reasoning", "mgm-reasoning");
        stage("sink", "mgm-sink");
        // The views (Kafka Streams) as mgm-views: its internal topics, group and transactions under its ACLs.
        int viewsPort = freePort();
        List<String> views = new ArrayList<>(List.of("stage", "views", "--instance", "views-0",
                "--set", "views.http.port=" + viewsPort, "--set", "views.state.dir=" + dir.resolve("views-state")));
        views.addAll(as("mgm-views"));
        processes.start(dir, "views-as-mgm-views", views.toArray(String[]::new));
        Path tasks = MgmProcesses.tasksOverScenes(dir, "sec-", 40);
        Path results = dir.resolve("results.jsonl");
        List<String> run = new ArrayList<>(List.of("run", "--input", tasks.toString(), "--output", results.toString(),
                "--timeout", "8m"));
        run.addAll(as("mgm-client"));
        Process client = processes.start(dir, "run", run.toArray(String[]::new));
        assertThat(client.waitFor(10, TimeUnit.MINUTES)).as("mgm run finished").isTrue();
        assertThat(client.exitValue()).as(MgmProcesses.log(dir, "run") + stageLogs()).isZero();
        Set<String> ids = new HashSet<>();
        for (String line : Files.readAllLines(results)) {
            JsonNode r = JSON.readTree(line);
            assertThat(ids.add(r.get("task_id").asText())).isTrue();
            assertThat(r.path("status").asText()).as(line).isEqualTo("ok");
        }
        assertThat(ids).hasSize(40);
        // The visual-token cache (a Kafka Streams client of its own) took the kafka.* settings and the ACLs: one
        // that could not start, restore or keep running would have warned.
        assertThat(MgmProcesses.log(dir, "encoders-as-mgm-encoders")).doesNotContain("could not start or serve")
                .doesNotContain("cache store not restored").doesNotContain("global thread failed")
                .doesNotContain("starting it again");
        // Every task's status, as the views stage tells it over HTTP.
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        for (String id : List.of("sec-0", "sec-20", "sec-39")) {
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://localhost:" + viewsPort + "/tasks/" + id)).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(r.body() + MgmProcesses.log(dir, "views-as-mgm-views")).isEqualTo(200);
                assertThat(JSON.readTree(r.body()).path("state").asText()).isEqualTo("answered");
            });
        }
    }

    @Test
    void aStageWithAnotherStagesUserIsRefusedAndSaysWhy() throws Exception {
        Process p = stage("reasoning", "mgm-encoders");
        assertThat(p.waitFor(3, TimeUnit.MINUTES)).as("the stage stops: " + MgmProcesses.log(dir,
                "reasoning-as-mgm-encoders")).isTrue();
        String log = MgmProcesses.log(dir, "reasoning-as-mgm-encoders");
        assertThat(p.exitValue()).as(log).isNotZero();
        assertThat(log).as(log).containsIgnoringCase("not authorized");
        System.out.println("reasoning as mgm-encoders:\n" + log.lines().filter(x -> x.contains("uthoriz"))
                .limit(5).reduce("", (a, b) -> a + b + "\n"));
    }

    private static String stageLogs() throws IOException {
        StringBuilder b = new StringBuilder();
        for (String s : List.of("encoders-as-mgm-encoders", "reasoning-as-mgm-reasoning", "sink-as-mgm-sink",
                "views-as-mgm-views")) {
            b.append("\n--- ").append(s).append(":\n").append(MgmProcesses.log(dir, s));
        }
        return b.toString();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
