/** Benchmarks of the reasoning stage's language model (main classes run by hand, not tests). */
package dev.mgmstream.reasoning.bench;
