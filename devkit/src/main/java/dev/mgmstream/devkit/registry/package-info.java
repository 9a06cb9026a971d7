/**
 * An in-process schema registry for local runs and tests. It speaks the subset of the Confluent Schema
 * Registry REST API that {@link dev.mgmstream.schemas.registry.HttpSchemaRegistryClient} uses (plus
 * {@code /config}), keeps every registration in a compacted Kafka topic as Confluent's registry keeps
 * {@code _schemas} (so a restarted registry finds the same ids), and refuses incompatible schemas with
 * Avro's own {@link org.apache.avro.SchemaCompatibility} and Confluent's error codes. Start it with
 * {@link dev.mgmstream.devkit.registry.InProcessSchemaRegistry#start(String, int)}. It is not meant to
 * replace a production registry: it has no leader election, so run one instance per schemas topic.
 */
package dev.mgmstream.devkit.registry;
