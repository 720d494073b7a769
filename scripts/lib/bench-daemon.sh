# shellcheck shell=bash
# Sourced by scripts/bench (uses its lab, $BIN, $IN, $RUNS, $WORK, publish and header).
# An idle `gatepeer run` of netconfig/lab-filter.json over one window of
# $GATEPEER_BENCH_IDLE seconds (120 unless set; --runs does not apply): CPU of one core
# from /proc/PID/stat, RSS at the window's start and end, and the applies in it (the
# change lines the daemon logs, and gatepeer_applies_total where `gatepeer metrics` has
# it), with the daemon's default resync. Then a daemon with the 100,000-rule filter
# (filter_bench's policy): RSS after its first converge and after ten reloads (SIGHUP).

# utime + stime of PID in clock ticks (/proc/PID/stat fields 14 and 15, after the
# command name, which may hold spaces).
daemon_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
daemon_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# Lines of applied changes in a daemon log ("applied object=... change=..." after the
# prefix; "+ ...", "~ ...", "- ..." in builds before event-driven repair).
daemon_change_lines() { sed 's/^<[0-9]>//; s/^gatepeer: //' "$1" | grep -cE '^([-+~] |applied )' || true; }
daemon_applies_total() { # config -> gatepeer_applies_total, or "-" without metrics
  $IN "$BIN" metrics -c "$1" 2>/dev/null | awk '/^gatepeer_applies_total / { v = $2 } END { print (v == "" ? "-" : v) }'
}
# Waits (up to 300 s, a bound for a broken build, not a measurement) until PID's log has
# N lines containing TEXT; fails when the daemon died.
daemon_wait_log() { # pid log text n
  local i
  for i in $(seq 1500); do
    [ "$(grep -cF -- "$3" "$2" || true)" -ge "$4" ] && return 0
    kill -0 "$1" 2>/dev/null || { echo "bench daemon: gatepeer run exited:" >&2; tail -5 "$2" >&2; return 1; }
    sleep 0.2
  done
  echo "bench daemon: no '$3' (x$4) in $2" >&2; return 1
}
# SIGHUP on the broken config; returns once the daemon answered it for the Nth time,
# so every reconcile before it has finished.
daemon_settle() { # pid log n
  ln -sfn "$WORK/broken.json" "$WORK/daemon.json"
  kill -HUP "$1"
  daemon_wait_log "$1" "$2" "keeping the running config" "$3"
}
daemon_stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

daemon_bench() {
  local idle=${GATEPEER_BENCH_IDLE:-120} cfg="$ROOT/netconfig/lab-filter.json" pid log hz
  hz=$(getconf CLK_TCK)
  $IN "$BIN" down >/dev/null 2>&1 || true

  say "daemon 1/2: idle gatepeer run -c netconfig/lab-filter.json for ${idle} s"
  log="$WORK/daemon-idle.log"
  $IN "$BIN" run -c "$cfg" >"$log" 2>&1 &
  pid=$!
  local i
  for i in $(seq 300); do
    [ "$($IN "$BIN" plan -c "$cfg" 2>/dev/null)" = "no changes" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "bench daemon: gatepeer run exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.2
  done
  [ "$($IN "$BIN" plan -c "$cfg" 2>/dev/null)" = "no changes" ] || { echo "bench daemon: the daemon did not converge" >&2; daemon_stop "$pid"; return 1; }
  sleep 2  # the first converge's own read-back and services settle; then the window
  local t0 t1 r0 r1 l0 l1 a0 a1 s0 s1
  t0=$(daemon_ticks "$pid"); r0=$(daemon_rss_kib "$pid"); l0=$(daemon_change_lines "$log"); a0=$(daemon_applies_total "$cfg")
  s0=$(date +%s.%N)
  sleep "$idle"
  t1=$(daemon_ticks "$pid"); r1=$(daemon_rss_kib "$pid"); l1=$(daemon_change_lines "$log"); a1=$(daemon_applies_total "$cfg")
  s1=$(date +%s.%N)
  daemon_stop "$pid"
  local cpu changes applies
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$s0" -v e="$s1" 'BEGIN { printf "%.3f", (b - a) / hz / (e - s) * 100 }')
  changes=$((l1 - l0))
  if [ "$a0" = "-" ] || [ "$a1" = "-" ]; then applies="- (no gatepeer_applies_total)"; else applies=$((a1 - a0)); fi

  say "daemon 2/2: RSS of a daemon with 100,000 deny prefixes, first converge and ten reloads"
  if [ ! -f "$WORK/deny.json" ]; then
    jq --argjson n 100000 '.filter.outbound[0].default = "allow" | .filter.outbound[0].rules =
        [range(0; $n) | {action: "deny", destination: "\(20 + (. / 65536 | floor)).\((. / 256 | floor) % 256).\(. % 256).0/24"}]' \
        "$cfg" > "$WORK/deny.json"
  fi
  # The daemon reads its config through a symlink turned between the policy and a broken
  # file: a SIGHUP on the broken one is answered ("keeping the running config") only
  # after the reconcile before it finished (one serial queue), so each RSS is read with
  # the daemon at rest.
  echo "{ not json" > "$WORK/broken.json"
  ln -sfn "$WORK/deny.json" "$WORK/daemon.json"
  log="$WORK/daemon-reload.log"
  $IN "$BIN" run -c "$WORK/daemon.json" --resync 3600 >"$log" 2>&1 &
  pid=$!
  daemon_wait_log "$pid" "$log" "nftables table inet gatepeer" 1 || { daemon_stop "$pid"; return 1; }
  local rfirst rlast k
  daemon_settle "$pid" "$log" 1 || { daemon_stop "$pid"; return 1; }
  rfirst=$(daemon_rss_kib "$pid")
  for k in $(seq 10); do
    ln -sfn "$WORK/deny.json" "$WORK/daemon.json"
    kill -HUP "$pid"
    { daemon_wait_log "$pid" "$log" "reloaded " "$k" && daemon_settle "$pid" "$log" $((k + 1)); } || { daemon_stop "$pid"; return 1; }
  done
  rlast=$(daemon_rss_kib "$pid")
  daemon_stop "$pid"
  $IN "$BIN" down >/dev/null 2>&1 || true

  {
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, kernel $(uname -r), release build, one window each"
    echo "(\`--runs\` does not apply), command: \`scripts/bench --only daemon\` (or the full bench)."
    echo
    echo "| idle \`gatepeer run -c netconfig/lab-filter.json\`, ${idle} s | value | target |"
    echo "|---|---|---|"
    echo "| CPU, % of one core (utime+stime, /proc/PID/stat) | $cpu % | < 1 % |"
    echo "| applies while idle (gatepeer_applies_total) | $applies | 0 |"
    echo "| change lines logged while idle | $changes | 0 |"
    awk -v a="$r0" -v b="$r1" 'BEGIN { printf "| RSS at start / end of the window | %.1f / %.1f MiB | |\n", a / 1024, b / 1024 }'
    echo
    echo "| daemon with 100,000 deny prefixes | VmRSS |"
    echo "|---|---|"
    awk -v a="$rfirst" -v b="$rlast" 'BEGIN {
      printf "| after the first converge | %.1f MiB |\n", a / 1024
      printf "| after ten reloads (SIGHUP, same file) | %.1f MiB (%.2fx; target <= 1.2x) |\n", b / 1024, b / a }'
  } > "$WORK/daemon-table.md"
  publish bench-daemon "$WORK/daemon-table.md"
}
