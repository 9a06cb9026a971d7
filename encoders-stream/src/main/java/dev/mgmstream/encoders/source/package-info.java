/**
 * Where images come from when a task names them by URI, and the policy that guards each scheme:
 * {@code file:} under configured roots only, {@code s3:} through the AWS SDK against AWS or any
 * S3-compatible endpoint, {@code http(s):} off by default and then only for allowed public hosts. Every
 * refusal is an {@link dev.mgmstream.model.vision.ImageRejectedException} with a reason; failures of the
 * store itself are {@link dev.mgmstream.encoders.source.TransientSourceException}s. No Kafka here.
 */
package dev.mgmstream.encoders.source;
