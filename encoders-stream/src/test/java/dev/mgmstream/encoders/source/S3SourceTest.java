package dev.mgmstream.encoders.source;

import dev.mgmstream.store.S3Clients;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.adobe.testing.s3mock.junit5.S3MockExtension;
import dev.mgmstream.store.S3ObjectStore;
import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * {@code s3:} images and the S3 claim-check store against Adobe's S3Mock, an S3-compatible server started
 * in this JVM, through the same client settings a deployment uses for MinIO or Ceph (endpoint, path style,
 * static keys).
 */
class S3SourceTest {

    @RegisterExtension
    static final S3MockExtension S3 = S3MockExtension.builder().silent().withSecureConnection(false)
            .withInitialBuckets("images", "tokens").build();

    static S3Client client;

    @BeforeAll
    static void connect() {
        client = S3Clients.create(settings("http://localhost:" + S3.getHttpPort()));
        client.putObject(PutObjectRequest.builder().bucket("images").key("cats/one.png").build(),
                RequestBody.fromBytes(new byte[] {1, 2, 3}));
        client.putObject(PutObjectRequest.builder().bucket("images").key("big.png").build(),
                RequestBody.fromBytes(new byte[4096]));
    }

    @AfterAll
    static void close() {
        if (client != null) {
            client.close();
        }
    }

    static S3Clients.Settings settings(String endpoint) {
        return new S3Clients.Settings(endpoint, "us-east-1", true, "test-key", "test-secret", Duration.ofSeconds(5));
    }

    private static Reason refusal(S3Source s, String uri, long max) {
        return catchThrowableOfType(() -> s.fetch(URI.create(uri), max), ImageRejectedException.class).reason();
    }

    @Test
    void fetchesObjectsAndRejectsWhatIsMissingRefusedOrTooLarge() throws Exception {
        S3Source any = new S3Source(client, List.of());
        assertThat(any.fetch(URI.create("s3://images/cats/one.png"), 100)).containsExactly(1, 2, 3);
        assertThat(refusal(any, "s3://images/cats/none.png", 100)).isEqualTo(Reason.NOT_FOUND);
        assertThat(refusal(any, "s3://no-such-bucket/a.png", 100)).isEqualTo(Reason.NOT_FOUND);
        assertThat(refusal(any, "s3://images/big.png", 1000)).isEqualTo(Reason.TOO_MANY_BYTES);
        assertThat(refusal(any, "s3://images/", 100)).isEqualTo(Reason.NOT_ALLOWED);
        S3Source onlyTokens = new S3Source(client, List.of("tokens"));
        assertThat(refusal(onlyTokens, "s3://images/cats/one.png", 100)).isEqualTo(Reason.NOT_ALLOWED);
    }

    @Test
    void anUnreachableStoreIsTransientNotTheTasksFault() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        try (S3Client down = S3Clients.create(settings("http://127.0.0.1:" + closedPort))) {
            assertThatThrownBy(() -> new S3Source(down, List.of()).fetch(URI.create("s3://images/cats/one.png"), 100))
                    .isInstanceOf(TransientSourceException.class);
        }
    }

    @Test
    void theClaimCheckStoreWritesOnceAndReadsBack() throws Exception {
        S3ObjectStore store = new S3ObjectStore(client, "tokens", "mgm", false);
        URI uri = store.put("tokens/abc.float16", new byte[] {5, 6, 7});
        assertThat(uri.toString()).isEqualTo("s3://tokens/mgm/tokens/abc.float16");
        assertThat(store.put("tokens/abc.float16", new byte[] {5, 6, 7})).isEqualTo(uri);
        assertThat(store.get(uri)).containsExactly(5, 6, 7);
        assertThatThrownBy(() -> store.get(URI.create("s3://images/cats/one.png"))).hasMessageContaining("not in bucket");
    }
}
