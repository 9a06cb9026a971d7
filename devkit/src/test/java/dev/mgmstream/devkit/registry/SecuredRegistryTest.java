package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.devkit.tls.LocalCertificates;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry client against a registry that speaks TLS and wants credentials, configured with the names
 * Confluent's serdes use: a trust store, basic auth from user info, a bearer token.
 */
class SecuredRegistryTest {

    private static final String PASSWORD = "changeit";

    @TempDir
    static Path dir;
    private static SSLContext serverTls;

    @BeforeAll
    static void certificates() throws Exception {
        // A self-signed server certificate for 127.0.0.1 (server.p12) and a trust store holding it (trust.p12).
        LocalCertificates.create(dir, "127.0.0.1", "ip:127.0.0.1", PASSWORD);
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(dir.resolve("server.p12"))) {
            keys.load(in, PASSWORD.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, PASSWORD.toCharArray());
        serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
    }

    @Test
    void overTlsWithBasicAuthTheClientWorksAndWithoutEitherItIsRefusedWithAReason() {
        String basic = "Basic " + Base64.getEncoder().encodeToString("ann:s3cret".getBytes());
        try (InProcessSchemaRegistry registry = start(basic)) {
            assertThat(registry.url()).startsWith("https://");
            try (SchemaRegistryClient client = client(registry.url(), true, "basic.auth.credentials.source", "USER_INFO",
                    "basic.auth.user.info", "ann:s3cret")) {
                int id = client.register("answers-value", Answer.getClassSchema());
                assertThat(client.schemaById(id)).isEqualTo(Answer.getClassSchema());
            }
            try (SchemaRegistryClient noCredentials = client(registry.url(), true)) {
                assertThatThrownBy(() -> noCredentials.subjects()).isInstanceOfSatisfying(SchemaRegistryException.class,
                        e -> assertThat(e.httpStatus()).isEqualTo(401));
            }
            try (SchemaRegistryClient noTrust = client(registry.url(), false, "basic.auth.user.info", "ann:s3cret")) {
                assertThatThrownBy(() -> noTrust.subjects()).isInstanceOf(SchemaRegistryException.class)
                        .hasMessageContaining("no answer");
            }
        }
    }

    @Test
    void aStaticBearerTokenIsSentAsConfluentsSerdesSendIt() {
        try (InProcessSchemaRegistry registry = start("Bearer t0k");
             SchemaRegistryClient client = client(registry.url(), true, "bearer.auth.credentials.source",
                     "STATIC_TOKEN", "bearer.auth.token", "t0k")) {
            assertThat(client.subjects()).isEmpty();
        }
    }

    private static InProcessSchemaRegistry start(String authorization) {
        return InProcessSchemaRegistry.start(RegistryServerConfig.of(SharedKafka.bootstrapServers(), 0)
                .withTopic("_schemas-" + UUID.randomUUID()), serverTls, authorization);
    }

    private static SchemaRegistryClient client(String url, boolean trust, String... more) {
        Map<String, String> config = new java.util.HashMap<>(Map.of("schema.registry.url", url,
                "schema.registry.retries", "0"));
        if (trust) {
            config.put("schema.registry.ssl.truststore.location", dir.resolve("trust.p12").toString());
            config.put("schema.registry.ssl.truststore.password", PASSWORD);
            config.put("schema.registry.ssl.truststore.type", "PKCS12");
        }
        for (int i = 0; i < more.length; i += 2) {
            config.put(more[i], more[i + 1]);
        }
        return HttpSchemaRegistryClient.fromConfig(config);
    }
}
