/**
 * Kafka plumbing every stage shares: one reading of the {@code kafka.*} client settings
 * ({@link dev.mgmstream.pipeline.kafka.KafkaClientConfigs}) and idempotent topic provisioning through the
 * Admin API ({@link dev.mgmstream.pipeline.kafka.TopicProvisioner}). The in-process broker is in the
 * {@code devkit} module, which no stage ships.
 */
package dev.mgmstream.pipeline.kafka;
