/** Benchmarks of the generation stage's text-to-image model (main classes run by hand, not tests). */
package dev.mgmstream.generation.bench;
