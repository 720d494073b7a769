# shellcheck shell=bash
# Sourced by scripts/bench (uses $BIN, $RUNS, $WORK, say, publish, header,
# and failover_median, await_reply_after and ping_outage of lib/bench-failover.sh).
#
# HA failover, mode A (scripts/lab up --ha; each node started by `scripts/lab ha up`:
# gatepeer with its config, keepalived with what `gatepeer ha render` made of it): the
# backend pings dev1 every 10 ms (ping -D -i 0.01) through the master, peera; one failure
# of the master: its keepalived and gatepeer killed (-9), its eth0 down, or both frozen
# (SIGSTOP). The outage is the longest gap between two replies in a row that ends after
# the failure (the pings lost in it x 10 ms beside it), at advert_int 1 s and 0.1 s. Each
# run starts both nodes' daemons afresh (peera MASTER, peerb BACKUP) in the bench's own HA
# lab, $HA_BENCH_LAB.
HA_BENCH_LAB=${GATEPEER_LAB:-gpb}h

ha_bench() {
  local lab="$ROOT/scripts/lab" limit=30 advert kind run
  command -v keepalived >/dev/null || { echo "bench ha: keepalived is not installed (Debian package keepalived)" >&2; exit 1; }
  GATEPEER_LAB=$HA_BENCH_LAB "$lab" up --ha >/dev/null
  for advert in 1 0.1; do
    for kind in crash link freeze; do
      : > "$WORK/ha-$kind-$advert.gap"; : > "$WORK/ha-$kind-$advert.lost"
      for run in $(seq 1 "$RUNS"); do
        say "bench ha: $kind, advert $advert s, run $run/$RUNS"
        ha_once "$kind" "$advert" "$limit"
      done
    done
  done
  GATEPEER_LAB=$HA_BENCH_LAB "$lab" down
  {
    header
    echo "Two gate peer VMs (\`scripts/lab up --ha\`), \`gatepeer run\` and Debian's keepalived $(keepalived --version 2>&1 | awk 'NR == 1 { print $2 }') on each,"
    echo "started by \`scripts/lab ha up\` with the keepalived.conf \`gatepeer ha render\` made (unicast VRRPv3,"
    echo "nopreempt; priorities 150 and 100; one sync group moving 172.31.0.254, 10.255.255.254 and 172.31.0.253). The"
    echo "backend pings dev1 every 10 ms through the master; the master fails once. Outage: the"
    echo "longest gap between two echo replies in a row that ends after the failure; lost pings x"
    echo "10 ms beside it. A crash or a freeze of the daemons leaves the old master's kernel"
    echo "forwarding (it keeps 172.31.0.254, gp0 and its routes) until the new master's gratuitous"
    echo "ARPs move the traffic: no outage. eth0 down is the real one: the master-down interval"
    echo "(3 x advert + skew)."
    echo
    echo "| failure of the master | advert 1 s: outage | lost x 10 ms | advert 0.1 s: outage | lost x 10 ms |"
    echo "|---|---|---|---|---|"
    local k label
    for k in crash link freeze; do
      case $k in
        crash) label="kill -9 of keepalived and gatepeer" ;;
        link) label="eth0 down" ;;
        freeze) label="SIGSTOP of keepalived and gatepeer" ;;
      esac
      printf '| %s | %s | %s | %s | %s |\n' "$label" \
        "$(failover_median "$WORK/ha-$k-1.gap")" "$(failover_median "$WORK/ha-$k-1.lost")" \
        "$(failover_median "$WORK/ha-$k-0.1.gap")" "$(failover_median "$WORK/ha-$k-0.1.lost")"
    done
    echo
    printf 'Runs (outage per run, ms):'
    for advert in 1 0.1; do for k in crash link freeze; do
      printf ' %s at %s s: %s;' "$k" "$advert" "$(paste -sd, "$WORK/ha-$k-$advert.gap" | sed 's/,/, /g')"
    done; done
    echo
    echo "Target (issue 13): under 1 s at 100 ms adverts for a crashed or isolated node."
  } > "$WORK/ha.md"
  publish bench-ha "$WORK/ha.md"
}

# ha_once KIND ADVERT LIMIT: fresh daemons, pings, one failure, the outage, cleanup.
ha_once() {
  local kind=$1 advert=$2 limit=$3 pings="$WORK/ha-ping.txt" ping i n a
  local lab="$ROOT/scripts/lab" be="ip netns exec $HA_BENCH_LAB-backend"
  hl() { GATEPEER_LAB=$HA_BENCH_LAB "$lab" "$@"; }
  for n in peera peerb; do hl ha stop "$n"; done
  hl ha link peera up
  local ms; ms=$(awk -v a="$advert" 'BEGIN { printf "%d", a * 1000 + 0.5 }')
  hl ha up peera "$BIN" "$ms"
  for i in $(seq 1 150); do [ "$(hl ha state peera)" = MASTER ] && break; sleep 0.1; done
  hl ha up peerb "$BIN" "$ms"
  for i in $(seq 1 150); do [ "$(hl ha state peerb)" = BACKUP ] && break; sleep 0.1; done
  [ "$(hl ha state peera)" = MASTER ] || { echo "bench ha: peera is not MASTER ($(hl ha state peera))" >&2; exit 1; }
  for i in $(seq 1 100); do $be ping -c 1 -W 1 -q 10.128.0.11 >/dev/null 2>&1 && break; sleep 0.1; done
  $be ping -D -i 0.01 -w "$((limit + 5))" 10.128.0.11 > "$pings" 2>&1 &
  ping=$!
  sleep 2
  local failed done
  failed=$(date +%s.%N)
  case $kind in
    # shellcheck disable=SC2046
    crash) kill -KILL $(hl ha pids peera keepalived) $(hl ha pids peera gatepeer) ;;
    link) hl ha link peera down ;;
    # shellcheck disable=SC2046
    freeze) kill -STOP $(hl ha pids peera keepalived) $(hl ha pids peera gatepeer) ;;
  esac
  for i in $(seq 1 $((limit * 10))); do [ "$(hl ha state peerb)" = MASTER ] && break; sleep 0.1; done
  done=$(date +%s.%N)
  # Resumed: a reply stamped 0.5 s after peerb said MASTER (its gratuitous ARPs are out).
  await_reply_after "$pings" "$done" 0.5 "$limit"
  kill "$ping" 2>/dev/null; wait "$ping" 2>/dev/null || true
  ping_outage "$pings" "$failed" "$done" 0.5 "$limit" | { read -r g; read -r l; echo "$g" >> "$WORK/ha-$kind-$advert.gap"; echo "$l" >> "$WORK/ha-$kind-$advert.lost"
                 say "  $kind: outage $g ms, lost x 10 ms $l"; }
  # ha stop continues a frozen process before it stops it; the stale addresses a killed
  # keepalived left are removed by the next keepalived start (it removes its VIPs).
  for n in peera peerb; do hl ha stop "$n"; done
  for a in 172.31.0.254/24 172.31.0.253/24; do ip -n "$HA_BENCH_LAB-peera" addr del "$a" dev eth0 2>/dev/null || true; done
}
