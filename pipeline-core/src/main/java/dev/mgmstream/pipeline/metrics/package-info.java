/**
 * Stage metrics through Micrometer, and a small HTTP endpoint that serves them in the Prometheus
 * text format so any scraper can read a running stage.
 */
package dev.mgmstream.pipeline.metrics;
