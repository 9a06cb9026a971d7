/**
 * Layered configuration: built-in defaults, then a properties file, then {@code MGM_*} environment
 * variables, then command-line flags, each layer overriding the one before. Every key is listed in
 * {@code docs/configuration.md}.
 */
package dev.mgmstream.pipeline.config;
