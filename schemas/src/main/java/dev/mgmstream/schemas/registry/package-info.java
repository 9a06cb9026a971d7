/**
 * A small client for the subset of the Confluent Schema Registry REST API that the pipeline needs:
 * registering a schema under a subject, fetching a schema by id, looking up and checking compatibility.
 * It uses only the documented API so it works against Confluent's registry, Apicurio's ccompat API,
 * Karapace, Redpanda and the pipeline's own in-process registry. Confluent's error codes live in
 * {@link dev.mgmstream.schemas.registry.RegistryErrorCodes} so that the client and the in-process
 * server agree on them.
 */
package dev.mgmstream.schemas.registry;
