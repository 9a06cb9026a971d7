#!/usr/bin/env bash
# The multi-process crash test of issue 6: mgm kafka, two encoders, two reasoning, one sink and one
# generation stage, each its own JVM; stage processes are SIGKILLed twice while 'mgm run' pushes TASKS
# tasks (default 2000) through; every task must have exactly one result and the lake exactly one row
# per task. Not part of 'mvn -B verify' (seven JVMs with the models on a 2-core machine).
#
#   scripts/multiprocess-kill-test.sh [TASKS]
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-2000}"
mvn -B -q -DskipTests -pl cli -am install
exec mvn -B -pl cli test -Dtest=MultiProcessKillTest -Dmgm.multiprocess=true -Dmgm.multiprocess.tasks="$tasks" \
  -Dsurefire.failIfNoSpecifiedTests=false
