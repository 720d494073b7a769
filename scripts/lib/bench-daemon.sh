# shellcheck shell=bash
# Sourced by scripts/bench (uses its lab, $BIN, $IN, $RUNS, $WORK, publish and header).
daemon_bench() {
  say "bench daemon: not written yet"
}
