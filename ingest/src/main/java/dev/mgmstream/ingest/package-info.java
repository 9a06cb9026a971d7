/**
 * The edges of the pipeline as a user sees them: task files (JSON Lines) read and published as
 * {@code ImageTask} records, and answers collected from the answers topic into result files. Kafka
 * clients only; nothing here knows of models.
 */
package dev.mgmstream.ingest;
