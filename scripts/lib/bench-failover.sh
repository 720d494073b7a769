# shellcheck shell=bash
# Sourced by scripts/bench (uses its lab, $BIN, $IN, $RUNS, $WORK, publish and header).
#
# VPG gate peer failover: the backend pings dev1 every 10 ms (ping -D -i 0.01) through
# gatepeer run; the VPG the peer's neighbour entry for dev1 points at is unplugged
# (scripts/lab cut); the outage is the longest gap between two replies in a row from
# the cut on (and the pings lost in it x 10 ms beside it). Three configs in one run:
# liveness off, the defaults (1 s interval), and a 100 ms interval.
failover_bench() {
  local lab="$ROOT/scripts/lab" be="ip netns exec $GATEPEER_LAB-backend" limit=90
  local -A cfg=([off]="$WORK/fo-off.json" [default]="$WORK/fo-default.json" [fast]="$WORK/fo-fast.json")
  jq '.links[0].liveness = {enabled: false}' "$LAB_CONFIG" > "${cfg[off]}"
  cp "$LAB_CONFIG" "${cfg[default]}"
  jq '.links[0].liveness = {intervalMs: 100}' "$LAB_CONFIG" > "${cfg[fast]}"
  local case run
  for case in off default fast; do
    : > "$WORK/fo-$case.gap"; : > "$WORK/fo-$case.lost"
    for run in $(seq 1 "$RUNS"); do
      say "bench failover: liveness $case, run $run/$RUNS"
      failover_once "$case" "${cfg[$case]}" "$limit"
    done
  done
  {
    header
    echo "Backend pings dev1 every 10 ms through \`gatepeer run\`; the VPG gate peer in use is"
    echo "unplugged (\`scripts/lab cut\`: its underlay and device-side links lose carrier). Outage:"
    echo "the longest gap between two echo replies in a row from the cut on; lost pings x"
    echo "interval beside it. Without liveness the neighbour entry keeps pointing at the dead"
    echo "VPG until it fails by itself (reachable time, DELAY, unicast probes); with liveness"
    echo "gatepeer flushes it and the FDB entry at the peer's \"down\"."
    echo
    echo "| liveness | outage (median gap) | lost pings x 10 ms (median) | target |"
    echo "|---|---|---|---|"
    printf '| off (`enabled: false`) | %s | %s | (baseline) |\n' "$(failover_median "$WORK/fo-off.gap")" "$(failover_median "$WORK/fo-off.lost")"
    printf '| default (1 s interval, fall 3) | %s | %s | < 2000 ms |\n' "$(failover_median "$WORK/fo-default.gap")" "$(failover_median "$WORK/fo-default.lost")"
    printf '| `intervalMs: 100` | %s | %s | < 500 ms |\n' "$(failover_median "$WORK/fo-fast.gap")" "$(failover_median "$WORK/fo-fast.lost")"
    echo
    echo "Runs (outage per run, ms): off $(paste -sd, "$WORK/fo-off.gap" | sed 's/,/, /g'); default $(paste -sd, "$WORK/fo-default.gap" | sed 's/,/, /g');"
    echo "100 ms $(paste -sd, "$WORK/fo-fast.gap" | sed 's/,/, /g'). Without liveness the outage is the neighbour entry's remaining"
    echo "reachable time, then DELAY and three unicast probes. Lost pings x 10 ms stays below the gap"
    echo "because ping sends less often while its requests wait for an unresolved neighbour."
  } > "$WORK/failover.md"
  publish bench-failover "$WORK/failover.md"
}

# failover_median FILE: the median of the numbers in FILE (one a line), "N ms"; values
# of runs that never resumed are written as the limit with ">".
failover_median() {
  sort -n "$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f ms\n", m }'
}

# await_reply_after PINGS TIME SLACK LIMIT: waits (LIMIT s at most) until `ping -D`'s
# output PINGS holds a reply stamped SLACK s after TIME.
await_reply_after() {
  local i
  for i in $(seq 1 $(($4 * 10))); do
    awk -v c="$2" -v s="$3" -F'[][]' '/bytes from/ && $2 > c + s { f = 1 } END { exit !f }' "$1" && return 0
    sleep 0.1
  done
}

# ping_outage PINGS FAILED DONE SLACK LIMIT: prints the longest gap between two replies in
# a row that ends after FAILED (ms), then the icmp_seq numbers lost in it x 10 ms; both
# LIMIT s when no reply came SLACK s after DONE (never resumed).
ping_outage() {
  awk -v c="$2" -v d="$3" -v sl="$4" -v lim="$5" -F'[][ =]+' '
    /bytes from/ { t = $2; for (k = 1; k <= NF; k++) if ($k == "icmp_seq") s = $(k + 1)
                   if (pt && t > c && t - pt > gap) { gap = t - pt; lost = s - ps - 1 }
                   if (t > d + sl) resumed = 1
                   pt = t; ps = s }
    END { if (!resumed) { printf "%d\n%d\n", lim * 1000, lim * 1000 } else { printf "%.0f\n%.0f\n", gap * 1000, lost * 10 } }
  ' "$1"
}

# failover_once CASE CONFIG LIMIT: one daemon start, cut, measurement, mend, stop.
failover_once() {
  local case=$1 config=$2 limit=$3 log="$WORK/fo-run.log" pings="$WORK/fo-ping.txt" pid ping dead i
  "$lab" mend vpg1 >/dev/null; "$lab" mend vpg2 >/dev/null
  $IN "$BIN" down >/dev/null 2>&1 || true
  $IN env GATEPEER_STATE_DIR="$GATEPEER_STATE_DIR" "$BIN" run -c "$config" > "$log" 2>&1 &
  pid=$!
  for i in $(seq 1 100); do
    if [ "$case" = off ]; then $be ping -c 1 -W 1 -q 10.128.0.11 >/dev/null 2>&1 && break
    else [ "$(grep -c 'peer up' "$log")" -ge 2 ] && break; fi
    sleep 0.1
  done
  # A fresh neighbour entry for dev1 each run, then the VPG it resolved to is the one to kill.
  $IN ip neigh flush dev gp0
  $be ping -c 1 -W 2 -q 10.128.0.11 >/dev/null || { echo "bench failover: dev1 unreachable before the cut" >&2; kill "$pid"; exit 1; }
  local used; used=$($IN ip -j neigh show 10.128.0.11 dev gp0 | jq -r '.[0].lladdr')
  dead=vpg2
  [ "$(ip -n "$GATEPEER_LAB-vpg1" -j link show vxlan10 | jq -r '.[0].address')" = "$used" ] && dead=vpg1
  $be ping -D -i 0.01 -w "$((limit + 3))" 10.128.0.11 > "$pings" 2>&1 &
  ping=$!
  # Pinging for 3 s first: the peer has answered a few probes while up, as a peer that
  # has served for a while has (its RTO follows the measured RTT).
  sleep 3
  local cut done
  cut=$(date +%s.%N)
  "$lab" cut "$dead" >/dev/null
  done=$(date +%s.%N)
  # Resumed: a reply stamped 50 ms after the cut was complete (the lab's RTT is 0.1 ms,
  # so nothing in flight at the cut is answered that late).
  await_reply_after "$pings" "$done" 0.05 "$limit"
  kill "$ping" 2>/dev/null; wait "$ping" 2>/dev/null || true
  ping_outage "$pings" "$cut" "$done" 0.05 "$limit" | { read -r g; read -r l; echo "$g" >> "$WORK/fo-$case.gap"; echo "$l" >> "$WORK/fo-$case.lost"; say "  cut $dead: outage $g ms, lost x 10 ms $l"; }
  "$lab" mend "$dead" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
