/**
 * The {@code mgm} command: the thin application module that wires the broker, the schema registry,
 * the stages, ingest and the lake together. Subcommands: {@code demo}, {@code run}, {@code kafka},
 * {@code stage}, {@code publish}, {@code results}.
 */
package dev.mgmstream.cli;
