package dev.mgmstream.ingest;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import dev.mgmstream.schemas.avro.ImageUri;
import dev.mgmstream.schemas.avro.InlineImage;

/**
 * Turns the image of a task line into what an {@code ImageTask} carries: the bytes of a small local
 * file inline (with their SHA-256 as the image id), a large local file as a {@code file:} URI, and
 * any other URI as it is. A relative path resolves against the task file's folder.
 */
public final class ImageRef {

    /** Two letters at least, so that a Windows drive letter is not taken for a scheme. */
    private static final Pattern SCHEME = Pattern.compile("^[a-zA-Z][a-zA-Z0-9+.-]+:.*");
    private static final Map<String, String> MEDIA_TYPES = Map.of(
            "png", "image/png", "jpg", "image/jpeg", "jpeg", "image/jpeg", "gif", "image/gif", "bmp", "image/bmp",
            "webp", "image/webp", "tif", "image/tiff", "tiff", "image/tiff");

    /** The image as the task will carry it; {@code imageId} is null unless the bytes were read. */
    public record Resolved(Object image, String imageId) {
    }

    private ImageRef() {
    }

    /**
     * @throws IOException with a message fit for the user when a local file cannot be read
     */
    public static Resolved resolve(String image, Path folder, int inlineMaxBytes) throws IOException {
        Path file = localFile(image, folder);
        if (file == null) {
            URI uri = URI.create(image.trim());
            return new Resolved(ImageUri.newBuilder().setUri(uri.toString()).setMediaType(mediaType(uri.getPath()))
                    .build(), null);
        }
        if (Files.isDirectory(file)) {
            throw new IOException(file + " is a folder, not an image file");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("image file not found: " + file);
        }
        long size = Files.size(file);
        if (size > inlineMaxBytes) {
            return new Resolved(ImageUri.newBuilder().setUri(file.toUri().toString()).setMediaType(mediaType(file.toString()))
                    .setSizeBytes(size).build(), null);
        }
        byte[] bytes = Files.readAllBytes(file);
        return new Resolved(InlineImage.newBuilder().setData(ByteBuffer.wrap(bytes))
                .setMediaType(mediaType(file.toString())).build(), sha256(bytes));
    }

    /**
     * The absolute, normalised path of a task line's image when it is a local file (a path, or a
     * {@code file:} URI); null for any other URI. The file need not exist.
     */
    public static Path localFile(String image, Path folder) {
        Path file;
        if (SCHEME.matcher(image).matches()) {
            URI uri = URI.create(image.trim());
            if (!"file".equalsIgnoreCase(uri.getScheme())) {
                return null;
            }
            file = Path.of(uri);
        } else {
            file = folder.resolve(image);
        }
        return file.toAbsolutePath().normalize();
    }

    static String mediaType(String path) {
        if (path == null) {
            return null;
        }
        int dot = path.lastIndexOf('.');
        return dot < 0 ? null : MEDIA_TYPES.get(path.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
