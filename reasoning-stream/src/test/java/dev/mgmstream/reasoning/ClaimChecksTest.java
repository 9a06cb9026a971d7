package dev.mgmstream.reasoning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.adobe.testing.s3mock.junit5.S3MockExtension;
import dev.mgmstream.store.S3Clients;
import dev.mgmstream.store.S3ObjectStore;
import java.io.IOException;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Claim-checked visual tokens on S3 (Adobe's S3Mock in this JVM, as the encoders' tests use it): what the
 * encoders' store writes, the reasoning stage reads with its own client settings, only under its configured
 * roots; a missing object is a bad record (rejected), a store that does not answer is trouble (retried).
 */
class ClaimChecksTest {

    @RegisterExtension
    static final S3MockExtension S3 = S3MockExtension.builder().silent().withSecureConnection(false)
            .withInitialBuckets("tokens", "elsewhere").build();

    @TempDir
    Path dir;

    static Map<String, String> config(String roots, String endpoint) {
        return Map.of("reasoning.claim.check.roots", roots, "reasoning.s3.endpoint", endpoint,
                "reasoning.s3.path.style", "true", "reasoning.s3.access.key", "k", "reasoning.s3.secret.key", "s",
                "reasoning.s3.timeout.ms", "2000");
    }

    @Test
    void readsWhatTheEncodersStoreWroteUnderItsRootsOnly() throws Exception {
        String endpoint = "http://localhost:" + S3.getHttpPort();
        URI written;
        URI outside;
        try (S3Client writer = S3Clients.create(new S3Clients.Settings(endpoint, "us-east-1", true, "k", "s",
                Duration.ofSeconds(5)))) {
            written = new S3ObjectStore(writer, "tokens", "mgm/visual-tokens", false).put("abc", new byte[] {1, 2, 3});
            outside = new S3ObjectStore(writer, "tokens", "private", false).put("abc", new byte[] {9});
            new S3ObjectStore(writer, "elsewhere", "mgm/visual-tokens", false).put("abc", new byte[] {8});
        }
        Files.writeString(dir.resolve("t.bin"), "file tokens");
        ReasoningConfig rc = new ReasoningConfig(config(dir + ",s3://tokens/mgm/visual-tokens", endpoint));
        try (ClaimChecks checks = ClaimChecks.fromConfig(rc)) {
            assertThat(checks.read(written)).containsExactly(1, 2, 3);
            assertThat(checks.read(dir.resolve("t.bin").toUri())).asString().isEqualTo("file tokens");
            assertThatThrownBy(() -> checks.read(outside)).isInstanceOf(AccessDeniedException.class);
            assertThatThrownBy(() -> checks.read(URI.create("s3://elsewhere/mgm/visual-tokens/abc")))
                    .isInstanceOf(AccessDeniedException.class);
            assertThatThrownBy(() -> checks.read(URI.create("s3://tokens/mgm/visual-tokens-other/abc")))
                    .as("a sibling of the prefix is not under it").isInstanceOf(AccessDeniedException.class);
            assertThatThrownBy(() -> checks.read(URI.create("s3://tokens/mgm/visual-tokens/../../private/abc")))
                    .isInstanceOf(AccessDeniedException.class);
            assertThatThrownBy(() -> checks.read(URI.create("s3://tokens/mgm/visual-tokens/missing")))
                    .as("nothing there: the record is rejected").isInstanceOf(NoSuchFileException.class);
        }
    }

    @Test
    void withoutAnS3RootS3UrisAreRefusedAndFoldersStillWork() throws Exception {
        try (ClaimChecks checks = ClaimChecks.fromConfig(new ReasoningConfig(config(dir.toString(), "")))) {
            assertThatThrownBy(() -> checks.read(URI.create("s3://tokens/mgm/visual-tokens/abc")))
                    .isInstanceOf(FileClaimChecks.UnsupportedSchemeException.class);
        }
    }

    @Test
    void aStoreThatDoesNotAnswerIsTransientNotABadRecord() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        ReasoningConfig rc = new ReasoningConfig(config("s3://tokens/mgm", "http://localhost:" + closedPort));
        try (ClaimChecks checks = ClaimChecks.fromConfig(rc)) {
            assertThatThrownBy(() -> checks.read(URI.create("s3://tokens/mgm/abc")))
                    .isInstanceOf(IOException.class)
                    .isNotInstanceOf(NoSuchFileException.class)
                    .isNotInstanceOf(AccessDeniedException.class);
        }
        assertThat(rc.claimCheckS3Roots()).containsExactly(URI.create("s3://tokens/mgm"));
        assertThat(rc.claimCheckRoots()).isEqualTo(List.of());
    }
}
