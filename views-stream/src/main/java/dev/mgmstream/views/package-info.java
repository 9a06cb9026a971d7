/**
 * The views stage: Kafka Streams over the pipeline's topics, exactly once, into the compacted captions
 * topic and queryable stores (each task's status, every answer about an image), answered over HTTP by
 * whichever instance owns a key.
 */
package dev.mgmstream.views;
