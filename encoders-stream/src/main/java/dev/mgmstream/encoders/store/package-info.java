/**
 * The claim-check store: visual tokens too large for a Kafka record are written here under a content
 * address, and the record carries the object's URI. A folder for one machine, S3 (or an S3-compatible
 * store) for a cluster. No Kafka here.
 */
package dev.mgmstream.encoders.store;
