/**
 * An in-process single-node KRaft broker for local runs ({@code mgm demo}, {@code mgm run --embedded},
 * {@code mgm kafka}) and the integration tests, and one shared instance per test JVM. Development only:
 * no stage depends on this module, so none ships a broker.
 */
package dev.mgmstream.devkit.kafka;
