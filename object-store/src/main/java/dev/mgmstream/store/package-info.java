/**
 * Objects too large for a Kafka record, written under a content address and named in the record by URI:
 * the encoders' claim-checked visual tokens, the generation stage's images. A folder for one machine, S3
 * (or an S3-compatible store) for a cluster. Below the stages that share it, so none imports another.
 */
package dev.mgmstream.store;
