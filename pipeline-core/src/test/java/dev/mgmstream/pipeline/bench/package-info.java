/** Benchmarks run by hand (not tests): see docs/benchmarks.md for the commands and recorded figures. */
package dev.mgmstream.pipeline.bench;
