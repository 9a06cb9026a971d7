package dev.mgmstream.store;

import java.io.IOException;
import java.net.URI;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** The claim-check store in an S3 bucket (or an S3-compatible one), under a key prefix. */
public final class S3ObjectStore implements ObjectStore {

    private final S3Client client;
    private final String bucket;
    private final String prefix;
    private final boolean ownsClient;

    public S3ObjectStore(S3Client client, String bucket, String prefix, boolean ownsClient) {
        this.client = client;
        this.bucket = bucket;
        this.prefix = prefix == null || prefix.isEmpty() || prefix.endsWith("/") ? (prefix == null ? "" : prefix)
                : prefix + "/";
        this.ownsClient = ownsClient;
    }

    @Override
    public URI put(String key, byte[] bytes) throws IOException {
        String full = prefix + key;
        try {
            if (exists(full)) {
                return uri(full);
            }
            client.putObject(PutObjectRequest.builder().bucket(bucket).key(full)
                    .contentType("application/octet-stream").build(), RequestBody.fromBytes(bytes));
            return uri(full);
        } catch (SdkException e) {
            throw new IOException("cannot write s3://" + bucket + "/" + full + ": " + e.getMessage(), e);
        }
    }

    private boolean exists(String key) {
        try {
            client.headObject(HeadObjectRequest.builder().bucket(bucket).key(key).build());
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public byte[] get(URI uri) throws IOException {
        if (!"s3".equals(uri.getScheme()) || !bucket.equals(uri.getHost())) {
            throw new IOException(uri + " is not in bucket " + bucket);
        }
        try {
            return client.getObjectAsBytes(GetObjectRequest.builder().bucket(bucket)
                    .key(uri.getPath().replaceFirst("^/", "")).build()).asByteArray();
        } catch (SdkException e) {
            throw new IOException("cannot read " + uri + ": " + e.getMessage(), e);
        }
    }

    private URI uri(String key) {
        return URI.create("s3://" + bucket + "/" + key);
    }

    @Override
    public void close() {
        if (ownsClient) {
            client.close();
        }
    }
}
