#!/usr/bin/env bash
# The soak of issue 17, outside CI: mgm kafka, two encoders, two reasoning, one generation and one sink
# stage, each its own JVM; 'mgm run' pushes TASKS tasks (default 20000) through while ten stage processes
# are SIGKILLed one at a time at evenly spaced moments and the broker (with the registry) is restarted once.
# Counts answers per task id on the answers topic (read_committed) and rows per task id in the lake: every
# task must have exactly one of each. Figures go to docs/benchmarks.md.
#
#   scripts/soak.sh [TASKS]
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-20000}"
mvn -B -q -DskipTests -pl cli -am install
start=$(date +%s)
mvn -B -pl cli test -Dtest=MultiProcessKillTest -Dmgm.soak=true -Dmgm.multiprocess.tasks="$tasks" \
  -Dsurefire.failIfNoSpecifiedTests=false
echo "soak: $tasks tasks, 10 SIGKILLs, 1 broker restart: passed in $(( $(date +%s) - start )) s"
