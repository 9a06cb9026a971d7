/**
 * The visual-token cache that makes the encoders stage encode each image once per model: a compacted
 * Kafka topic as the durable record, kept by every instance in a Kafka Streams global store on disk
 * (RocksDB, with bounded native memory), so that a restart reads only what the topic gained since.
 */
package dev.mgmstream.encoders.cache;
