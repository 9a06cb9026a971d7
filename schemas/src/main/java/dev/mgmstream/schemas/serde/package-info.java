/**
 * Kafka serializers and deserializers for Avro records in the Confluent wire format (magic byte 0, the
 * writer schema's 4-byte big-endian registry id, then Avro binary), so that any tool that reads Confluent
 * Avro can read the pipeline's topics. Writers register their schema under {@code <topic>-value}
 * (TopicNameStrategy); readers fetch the writer's schema by id and resolve it against their own, which is
 * what lets a stage built against an older schema keep reading newer records.
 * Start with {@link dev.mgmstream.schemas.serde.AvroSerdes}.
 */
package dev.mgmstream.schemas.serde;
