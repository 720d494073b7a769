# shellcheck shell=bash
# Sourced by scripts/bench (uses its lab, $BIN, $IN, $RUNS, $WORK, publish and header).
failover_bench() {
  say "bench failover: not written yet"
}
