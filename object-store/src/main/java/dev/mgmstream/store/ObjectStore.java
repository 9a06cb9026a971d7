package dev.mgmstream.store;

import java.io.IOException;
import java.net.URI;

/**
 * Where visual tokens too large to travel inline are kept (the claim-check pattern): the record carries
 * the URI, the reader fetches the bytes. Keys are content addresses, so writing the same tokens twice (a
 * batch replayed after a crash) writes the same object, and an object never changes once written.
 */
public interface ObjectStore extends AutoCloseable {

    /** Stores the bytes under the key unless an object is already there; returns the object's URI. */
    URI put(String key, byte[] bytes) throws IOException;

    /** The bytes of an object this store wrote. */
    byte[] get(URI uri) throws IOException;

    @Override
    default void close() {
    }
}
