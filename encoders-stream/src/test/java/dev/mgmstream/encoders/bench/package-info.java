/** Benchmarks of the encoders stage (main classes, not tests); figures and commands in docs/benchmarks.md. */
package dev.mgmstream.encoders.bench;
