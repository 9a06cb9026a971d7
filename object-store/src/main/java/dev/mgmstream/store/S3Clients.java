package dev.mgmstream.store;

import java.net.URI;
import java.time.Duration;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * One S3 client for AWS or any S3-compatible store (MinIO, Ceph, S3Mock...), from configuration: an endpoint
 * override, path-style addressing (most self-hosted stores need it), static keys or AWS's default chain.
 * Checksums are computed only where the API requires them, because S3-compatible stores differ in which of
 * the newer checksum headers they understand.
 */
public final class S3Clients {

    /** @param endpoint empty for AWS itself */
    public record Settings(String endpoint, String region, boolean pathStyle, String accessKey, String secretKey,
                           Duration timeout) {}

    private S3Clients() {
    }

    public static S3Client create(Settings s) {
        AwsCredentialsProvider credentials = s.accessKey() == null || s.accessKey().isBlank()
                ? DefaultCredentialsProvider.builder().build()
                : StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey()));
        var builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(s.timeout())
                        .socketTimeout(s.timeout()))
                .region(Region.of(s.region()))
                .credentialsProvider(credentials)
                .forcePathStyle(s.pathStyle())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (s.endpoint() != null && !s.endpoint().isBlank()) {
            builder.endpointOverride(URI.create(s.endpoint()));
        }
        return builder.build();
    }
}
