/**
 * The visual-token cache that makes the encoders stage encode each image once per model: a compacted
 * Kafka topic as the durable record, read into a bounded local map by every instance.
 */
package dev.mgmstream.encoders.cache;
