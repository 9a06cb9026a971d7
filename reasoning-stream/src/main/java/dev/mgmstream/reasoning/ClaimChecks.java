package dev.mgmstream.reasoning;

import dev.mgmstream.store.S3Clients;
import java.io.IOException;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;

/**
 * The claim checks the stage may read: {@code file:} URIs under the configured folders, and {@code s3://} URIs
 * under the configured {@code s3://bucket/prefix} roots, so that encoders and reasoning on different nodes share
 * tokens through object storage instead of a shared volume. Anything else is refused: a record must not be
 * able to make the stage read arbitrary files or buckets.
 */
final class ClaimChecks implements ClaimCheckReader, AutoCloseable {

    private final FileClaimChecks files;
    private final List<URI> s3Roots;
    private final S3Client s3;

    private ClaimChecks(FileClaimChecks files, List<URI> s3Roots, S3Client s3) {
        this.files = files;
        this.s3Roots = s3Roots;
        this.s3 = s3;
    }

    static ClaimChecks fromConfig(ReasoningConfig rc) {
        List<URI> s3Roots = rc.claimCheckS3Roots();
        return new ClaimChecks(new FileClaimChecks(rc.claimCheckRoots()), s3Roots,
                s3Roots.isEmpty() ? null : S3Clients.create(rc.s3()));
    }

    static ClaimChecks of(FileClaimChecks files, List<URI> s3Roots, S3Client s3) {
        return new ClaimChecks(files, List.copyOf(s3Roots), s3);
    }

    @Override
    public byte[] read(URI uri) throws IOException {
        if (!"s3".equalsIgnoreCase(uri.getScheme())) {
            return files.read(uri);
        }
        if (s3 == null) {
            throw new FileClaimChecks.UnsupportedSchemeException("no s3:// root in "
                    + ReasoningConfig.CLAIM_CHECK_ROOTS.name() + "; " + uri + " cannot be read here");
        }
        String bucket = uri.getHost();
        String key = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
        if (bucket == null || key.isEmpty() || key.contains("..")) {
            throw new AccessDeniedException(uri + " is not an object URI (s3://bucket/key)");
        }
        boolean allowed = false;
        for (URI root : s3Roots) {
            String prefix = root.getPath() == null ? "" : root.getPath().replaceFirst("^/", "");
            if (bucket.equals(root.getHost()) && (prefix.isEmpty() || key.startsWith(prefix.endsWith("/") ? prefix
                    : prefix + "/"))) {
                allowed = true;
                break;
            }
        }
        if (!allowed) {
            throw new AccessDeniedException(uri + " is outside the claim-check roots " + s3Roots);
        }
        try {
            return s3.getObjectAsBytes(GetObjectRequest.builder().bucket(bucket).key(key).build()).asByteArray();
        } catch (NoSuchKeyException | NoSuchBucketException e) {
            // the record points at nothing: it can never be answered (rejected, not retried)
            NoSuchFileException missing = new NoSuchFileException(uri.toString());
            missing.initCause(e);
            throw missing;
        } catch (SdkException e) {
            // the store down, a timeout, or credentials the operator will fix (403): the batch is retried
            throw new IOException("cannot read " + uri + " (will retry): " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (s3 != null) {
            s3.close();
        }
    }
}
