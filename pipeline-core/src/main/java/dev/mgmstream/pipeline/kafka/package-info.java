/**
 * Kafka plumbing shared by every stage and by the tests: an in-process single-node KRaft broker
 * ({@link dev.mgmstream.pipeline.kafka.EmbeddedKafka}) for local runs and integration tests, and
 * idempotent topic provisioning through the Admin API
 * ({@link dev.mgmstream.pipeline.kafka.TopicProvisioner}).
 */
package dev.mgmstream.pipeline.kafka;
