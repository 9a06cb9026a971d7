package dev.mgmstream.encoders.source;

import dev.mgmstream.store.S3Clients;
import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * {@code s3://bucket/key} URIs through the AWS SDK. A missing object or a refused one is the task's problem
 * (rejected); a store that fails or cannot be reached is the deployment's (transient: the batch is retried,
 * then read again, so no task is lost to an outage).
 *
 * @see S3Clients for endpoints of S3-compatible stores
 */
public final class S3Source implements ImageSource {

    private final S3Client client;
    private final List<String> buckets;

    /** @param buckets the buckets tasks may name; empty for any bucket the credentials can read */
    public S3Source(S3Client client, List<String> buckets) {
        this.client = client;
        this.buckets = List.copyOf(buckets);
    }

    @Override
    public byte[] fetch(URI uri, long maxBytes) throws ImageRejectedException, TransientSourceException {
        String bucket = uri.getHost() != null ? uri.getHost() : uri.getAuthority();
        String key = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
        if (bucket == null || bucket.isEmpty() || key.isEmpty()) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "s3 URI " + uri + " needs a bucket and a key");
        }
        if (!buckets.isEmpty() && !buckets.contains(bucket)) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "bucket '" + bucket + "' is not on the allow-list "
                    + "(encoders.source.s3.buckets)");
        }
        GetObjectRequest request = GetObjectRequest.builder().bucket(bucket).key(key).build();
        try (ResponseInputStream<GetObjectResponse> in = client.getObject(request)) {
            Long length = in.response().contentLength();
            if (length != null && length > maxBytes) {
                in.abort();
                throw new ImageRejectedException(Reason.TOO_MANY_BYTES, uri + " has " + length
                        + " bytes, more than the limit of " + maxBytes);
            }
            return Limited.readAll(in, maxBytes, uri.toString());
        } catch (NoSuchKeyException | NoSuchBucketException e) {
            throw new ImageRejectedException(Reason.NOT_FOUND, "no such object: " + uri);
        } catch (S3Exception e) {
            int status = e.statusCode();
            if (status == 404) {
                throw new ImageRejectedException(Reason.NOT_FOUND, "no such object: " + uri);
            }
            if (status == 403) {
                throw new ImageRejectedException(Reason.NOT_ALLOWED, "access denied to " + uri);
            }
            if (status >= 400 && status < 500 && !HttpSource.retriable(status)) {
                throw new ImageRejectedException(Reason.FETCH_FAILED, "S3 refused " + uri + ": " + e.getMessage());
            }
            throw new TransientSourceException("S3 failed on " + uri + ": " + e.getMessage(), e);
        } catch (SdkClientException | IOException e) {
            throw new TransientSourceException("cannot reach S3 for " + uri + ": " + e.getMessage(), e);
        }
    }
}
