# shellcheck shell=bash
# Sourced by scripts/bench (uses its lab, $BIN, $IN, $RUNS, $WORK, publish and header).
# Repair latency of `gatepeer run --resync 3600` (so only kernel events can repair) on
# netconfig/lab-filter.json, per object kind, $RUNS runs each. Each run changes one object
# behind the daemon's back while a monitor in the peer namespace (ip monitor, bridge
# monitor, nft monitor) prints every kernel notification with the time it arrived
# (perl's Time::HiRes, the same clock for all). Latency = arrival of the last repair
# notification minus arrival of the first notification of the change: the kernel's own
# view of the drift and of its repair, not the daemon's log.

REPAIR_PEER_NS=
# Prints each line of stdin prefixed with the epoch time in seconds (microseconds).
repair_stamp() { perl -MTime::HiRes=time -ne '$| = 1; printf "%.6f %s", time, $_'; }

# One run: kind monitor-command change-command repaired-regex -> latency in ms on stdout.
# Waits (bounded at 10 s, a guard against a broken build, not a measurement) until the
# monitor printed a line matching the regex, then 0.3 s more so a repair's last event
# (the route after a device) is in.
repair_run() {
  local kind=$1 monitor=$2 change=$3 done_re=$4 out="$WORK/repair-$1.txt" mpid i
  : >"$out"
  # shellcheck disable=SC2086
  (exec ip netns exec "$REPAIR_PEER_NS" $monitor 2>/dev/null | repair_stamp >"$out") &
  mpid=$!
  sleep 0.3  # the monitor is subscribed before the change
  ip netns exec "$REPAIR_PEER_NS" sh -c "$change" >/dev/null
  for i in $(seq 100); do
    grep -qE "^[0-9.]+ ($done_re)" "$out" && break
    sleep 0.1
  done
  sleep 0.3
  { pkill -P "$mpid"; kill "$mpid"; wait "$mpid"; } 2>/dev/null || true
  awk -v re="^($done_re)" '
    NR == 1 { first = $1 }
    { line = $0; sub(/^[0-9.]+ /, "", line); if (line ~ re) last = $1 }
    END { if (last == "" || first == "") print "NaN"; else printf "%.1f\n", (last - first) * 1000 }' "$out"
}

repair_median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

repair_bench() {
  local cfg="$ROOT/netconfig/lab-filter.json" pid log kind r i values med
  REPAIR_PEER_NS=$GATEPEER_LAB-peer
  $IN "$BIN" down >/dev/null 2>&1 || true
  log="$WORK/repair-daemon.log"
  say "repair: gatepeer run --resync 3600 -c netconfig/lab-filter.json"
  $IN "$BIN" run -c "$cfg" --resync 3600 >"$log" 2>&1 &
  pid=$!
  for i in $(seq 300); do
    [ "$($IN "$BIN" plan -c "$cfg" 2>/dev/null)" = "no changes" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "bench repair: gatepeer run exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.2
  done
  sleep 1
  # kind | monitor | change | regex of the line that says it is repaired. nft: `monitor
  # rules` only (nft 1.0.x's plain `nft monitor` crashes printing an element of an
  # interval concatenation map); the table's rules are notified at the commit that
  # restores them, so the last "add rule inet gatepeer" is that commit.
  local kinds=(
    "route|ip monitor route|ip route del 192.168.10.0/24|192\.168\.10\.0/24 via"
    "fdb (all-zero entry)|bridge monitor fdb|bridge fdb del 00:00:00:00:00:00 dev gp0 dst 100.64.152.4|00:00:00:00:00:00 dev gp0 dst 100\.64\.152\.4"
    "vxlan device (until its route is back)|ip monitor link address route|ip link del gp0|192\.168\.10\.0/24 via"
    "address|ip monitor address|ip addr del 10.255.255.254/9 dev gp0|[0-9]+: gp0 +inet 10\.255\.255\.254/9"
    "sysctl (rp_filter)|ip monitor netconf|sysctl -qw net.ipv4.conf.gp0.rp_filter=1|inet gp0 rp_filter loose"
    "nft table deleted|nft monitor rules|nft delete table inet gatepeer|add rule inet gatepeer "
    "nft table flushed|nft monitor rules|nft flush table inet gatepeer|add rule inet gatepeer "
  )
  {
    # Not `header`: no hyperfine here, the runs are this file's own.
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, kernel $(uname -r), $RUNS runs per kind,"
    echo "command: \`scripts/bench --runs $RUNS$([ "$ONLY" = all ] || echo " --only $ONLY")\`."
    echo
    echo "Repair latency of \`gatepeer run --resync 3600\` (only kernel events repair), from the kernel's"
    echo "notification of the change to its last notification of the repair (ip/bridge/nft monitor):"
    echo
    echo "| object | median | runs | target |"
    echo "|---|---|---|---|"
  } >"$WORK/repair-table.md"
  for k in "${kinds[@]}"; do
    IFS='|' read -r kind mon change re <<<"$k"
    values=()
    for i in $(seq "$RUNS"); do
      r=$(repair_run "$(echo "$kind" | tr -c 'a-z' _)" "$mon" "$change" "$re")
      values+=("$r")
    done
    med=$(printf '%s\n' "${values[@]}" | { grep -v NaN || true; } | repair_median)
    say "repair: $kind: ${values[*]} ms (median $med)"
    echo "| $kind | $med ms | ${values[*]} | < 50 ms |" >>"$WORK/repair-table.md"
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  publish bench-repair "$WORK/repair-table.md"
  $IN "$BIN" down >/dev/null 2>&1 || true
}
