/**
 * The one catalogue of the pipeline's Kafka topics: their names (a configurable prefix plus a fixed
 * base name), partition counts, key and value types, and the topic configs that provisioning applies.
 * Stages ask the catalogue for a topic by {@link dev.mgmstream.schemas.topics.TopicRole} instead of
 * spelling names themselves, so a deployment can rename every topic with one prefix.
 */
package dev.mgmstream.schemas.topics;
