# shellcheck shell=bash
# Sourced by scripts/bench (uses its lab, $BIN, $IN, $RUNS, $WORK, publish and header).
repair_bench() {
  say "bench repair: not written yet"
}
