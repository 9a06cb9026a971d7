/**
 * The record types carried by the pipeline's topics, one per topic, generated at build time by
 * avro-maven-plugin from {@code src/main/avro/*.avsc} (shared types under {@code src/main/avro/common}).
 * Change the .avsc files, never the generated classes; keep every change BACKWARD-compatible: add fields
 * only with defaults, make optional fields nullable with a null default, never rename or retype a field.
 */
package dev.mgmstream.schemas.avro;
