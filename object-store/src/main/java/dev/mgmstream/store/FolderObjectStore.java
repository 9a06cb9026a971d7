package dev.mgmstream.store;

import java.io.IOException;
import java.net.URI;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * An object store in a folder (local disk or a shared mount), for single-machine deployments and tests.
 * Objects are written to a temporary file and moved into place, so a reader never sees half an object.
 */
public final class FolderObjectStore implements ObjectStore {

    private final Path root;

    public FolderObjectStore(Path root) throws IOException {
        this.root = Files.createDirectories(root).toRealPath();
    }

    @Override
    public URI put(String key, byte[] bytes) throws IOException {
        Path target = resolve(key);
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
            return target.toUri();
        }
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), ".put-", ".tmp");
        try {
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            } catch (FileAlreadyExistsException e) {
                // another writer put the same content first
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target.toUri();
    }

    @Override
    public byte[] get(URI uri) throws IOException {
        Path p = Path.of(uri).toRealPath();
        if (!p.startsWith(root)) {
            throw new IOException(uri + " is not in the store at " + root);
        }
        return Files.readAllBytes(p);
    }

    private Path resolve(String key) {
        Path p = root.resolve(key).normalize();
        if (!p.startsWith(root) || key.contains("..")) {
            throw new IllegalArgumentException("object key escapes the store: " + key);
        }
        return p;
    }
}
