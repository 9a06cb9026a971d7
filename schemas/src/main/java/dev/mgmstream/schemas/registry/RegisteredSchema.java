package dev.mgmstream.schemas.registry;

import java.util.Objects;
import org.apache.avro.Schema;

/** A schema as registered: under which subject, as which version, with which global id. */
public record RegisteredSchema(String subject, int version, int id, Schema schema) {
    public RegisteredSchema {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(schema, "schema");
    }
}
