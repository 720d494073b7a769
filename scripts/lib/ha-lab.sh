# shellcheck shell=bash
# ha-lab.sh: Debian's keepalived and gatepeer run in the HA lab's peer namespaces
# (scripts/lab up --ha: nodes peera and peerb). Source it after scripts/lab has set
# PREFIX and ns(); it defines functions and sets no traps.
#
# Everything a daemon needs lives under $HA_LAB_DIR/NODE/ (/run/gatepeer-lab/PREFIX/NODE:
# two labs never share a file):
#   gatepeer.json    the node's gatepeer config (ha_node_config), written by ha_up
#   keepalived.rendered.conf  what `gatepeer ha render` wrote for it (render.log: its
#                    stderr); keepalived.conf the copy keepalived was started with
#   keepalived.pid   keepalived's parent (it writes it: -p); keepalived.vrrp.pid its
#                    VRRP child (-r), the process that sends and hears adverts
#   keepalived.log   its console log (-l -D, no syslog: -G)
#   gatepeer.pid, gatepeer.log  `gatepeer run`
#   gatepeer.state/  GATEPEER_STATE_DIR of everything gatepeer run there (the daemon, and
#                    `gatepeer health` and `gatepeer ha notify` that keepalived runs); in
#                    it netns/PREFIX-NODE/ha-state.json is what keepalived last told
#                    `gatepeer ha notify` (state, type, name, priority, time)
#
# The state is read from ha-state.json, the record the rendered config's notify makes
# (the sync group's: GROUP gatepeer STATE PRIORITY), not from `keepalived --signum=DATA`:
# the data dump goes to /tmp/keepalived.data, one path for every keepalived on the
# machine (two labs, or a test and a bench, would read each other's), it is written
# asynchronously after the signal, and it says nothing when the VRRP child is frozen or
# gone. A dead keepalived says nothing: ha_state reports "dead" when the VRRP child's pid
# is gone, whatever the file holds; keepalived's start removes the last run's record.
#
# Processes are stopped by the pid their own files name, checked to still be ours (alive
# and in this lab's namespace of that node) so a reused pid is never signalled.
#
# Functions:
#   ha_up NODE BIN [ADVERT_MS] [PREEMPT]  the real thing: writes NODE/gatepeer.json
#                                      (ha_node_config), starts gatepeer with it, waits
#                                      for gp0, renders keepalived.conf with `BIN ha
#                                      render` in NODE and starts keepalived with it
#   ha_node_config NODE [ADVERT_MS] [PREEMPT]  print NODE's gatepeer config: the lab's
#                                      link (netconfig/lab.json) with the ha section of
#                                      netconfig/ha/peer-{a,b}.json, advertIntervalMs
#                                      ADVERT_MS (default 1000), PREEMPT nopreempt
#                                      (default) or delay:N (preempt, preemptDelaySeconds
#                                      N); a jq filter in $HA_CONFIG_JQ is applied last (a
#                                      test's additions: a filter section, conntrackd paths)
#   ha_keepalived_start NODE FILE      start keepalived --vrrp in NODE with FILE (a config
#                                      of your own; ha_up renders the real one)
#   ha_gatepeer_start NODE BIN CONFIG  start `gatepeer run -c CONFIG --resync 3600`
#   ha_link NODE down|up               eth0 down, or up with the lab's route to the VPGs
#   ha_pids NODE keepalived|gatepeer   the live pids (keepalived: parent and VRRP child)
#   ha_state NODE                      MASTER, BACKUP, FAULT, STOP, DELETED (ha-state.json),
#                                      INIT (keepalived runs, no notify yet), dead (its VRRP
#                                      child is gone), STOP after a clean stop, or none
#                                      (never started)
#   ha_stop NODE [keepalived|gatepeer] stop by pid: SIGCONT, SIGTERM, then SIGKILL after 5 s
#   ha_stop_all                        both daemons on every HA node (scripts/lab down)

HA_NODES=(peera peerb)
HA_LAB_DIR=/run/gatepeer-lab/$PREFIX

# The nodes' addresses, priorities (peera 150, peerb 100), virtual router id and virtual
# addresses are netconfig/ha/peer-{a,b}.json's ha section; `gatepeer ha render` makes
# keepalived.conf from it.

_ha_err() { echo "ha-lab: $*" >&2; }
_ha_node() {
  local n
  for n in "${HA_NODES[@]}"; do [[ $n == "$1" ]] && return 0; done
  _ha_err "unknown HA node '$1' (nodes: ${HA_NODES[*]})"; return 2
}
_ha_dir() { echo "$HA_LAB_DIR/$1"; }

# _ha_ours PID NODE: PID is alive and runs in this lab's namespace of NODE.
_ha_ours() {
  [[ $1 =~ ^[0-9]+$ ]] && [ -d "/proc/$1" ] || return 1
  [ "$(ip netns identify "$1" 2>/dev/null)" = "$(ns "$2")" ]
}

# _ha_pidfile_pid FILE NODE: the pid FILE names when it is ours.
_ha_pidfile_pid() {
  local p
  [ -f "$1" ] || return 1
  p=$(tr -dc 0-9 <"$1")
  _ha_ours "$p" "$2" && echo "$p"
}

# _ha_close_inherited: closes every descriptor above 2 in the (sub)shell that calls it,
# before it execs a daemon. A daemon must not hold what its starter inherited: the
# lab's lock (fd 9) would block every later lab command, and Foundation's Process
# (the tests) learns that a child exited when the socket it gave the child closes, so a
# daemon holding it left the test waiting for a lab command that had long exited.
_ha_close_inherited() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

# ha_node_config NODE [ADVERT_MS] [PREEMPT]
ha_node_config() {
  local node=$1 advert=${2:-1000} preempt=${3:-nopreempt} letter root
  _ha_node "$node" || return 2
  [[ $advert =~ ^[0-9]+$ ]] || { _ha_err "advert: milliseconds, not '$advert'"; return 2; }
  letter=${node#peer}
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local pre='.ha.preempt = false | del(.ha.preemptDelaySeconds)'
  case $preempt in
    nopreempt) ;;
    delay:[0-9]*) pre=".ha.preempt = true | .ha.preemptDelaySeconds = ${preempt#delay:}" ;;
    *) _ha_err "preempt: nopreempt or delay:SECONDS, not '$preempt'"; return 2 ;;
  esac
  jq -n --slurpfile lab "$root/netconfig/lab.json" --slurpfile ha "$root/netconfig/ha/peer-$letter.json" \
    --argjson advert "$advert" --arg dir "$(_ha_dir "$node")" \
    "\$lab[0] | .links[0].mac = \$ha[0].links[0].mac | .ha = \$ha[0].ha | .ha.advertIntervalMs = \$advert | $pre
     | .ha.conntrackd += {configPath: (\$dir + \"/conntrackd.conf\"), lockFile: (\$dir + \"/conntrackd.lock\"), socketPath: (\$dir + \"/conntrackd.ctl\")}
     | ${HA_CONFIG_JQ:-.}"
}

# ha_up NODE BIN [ADVERT_MS] [PREEMPT]
ha_up() {
  local node=$1 bin=$2 advert=${3:-1000} preempt=${4:-nopreempt}
  _ha_node "$node" || return 2
  local dir i; dir=$(_ha_dir "$node")
  mkdir -p "$dir" && chmod 0755 "$HA_LAB_DIR" "$dir"
  ha_node_config "$node" "$advert" "$preempt" >"$dir/gatepeer.json.new" && mv -f "$dir/gatepeer.json.new" "$dir/gatepeer.json" || return
  ha_gatepeer_start "$node" "$bin" "$dir/gatepeer.json" || return
  # keepalived refuses a virtual address on a missing device: gp0 first (docs/ha.md).
  for i in $(seq 100); do
    ip -n "$(ns "$node")" link show gp0 >/dev/null 2>&1 && break
    sleep 0.05
  done
  ip -n "$(ns "$node")" link show gp0 >/dev/null 2>&1 || {
    _ha_err "gatepeer made no gp0 in $node within 5 s:"; tail -n 20 "$dir/gatepeer.log" >&2; return 1; }
  GATEPEER_STATE_DIR="$dir/gatepeer.state" ip netns exec "$(ns "$node")" "$bin" ha render -c "$dir/gatepeer.json" \
    -o "$dir/keepalived.rendered.conf" 2>"$dir/render.log" || {
    _ha_err "gatepeer ha render failed in $node:"; cat "$dir/render.log" >&2; return 1; }
  ha_keepalived_start "$node" "$dir/keepalived.rendered.conf"
}

# _ha_record NODE: the ha-state.json `gatepeer ha notify` writes in NODE (StateStore: a
# named namespace keeps its state in BASE/netns/NAME).
_ha_record() { echo "$(_ha_dir "$1")/gatepeer.state/netns/$(ns "$1")/ha-state.json"; }

# ha_keepalived_start NODE FILE
#   Starts keepalived (VRRP only, no fork of its own, console log) in NODE's namespace
#   with FILE and returns once its VRRP child's pid file names a live process (5 s at
#   most). The last run's ha-state.json goes first: until this keepalived notifies, the
#   node's state is INIT, not what an earlier one said.
ha_keepalived_start() {
  local node=$1 file=${2:-}
  _ha_node "$node" || return 2
  [ -f "$file" ] || { _ha_err "ha_keepalived_start: no keepalived.conf at '$file' (ha up renders one)"; return 2; }
  command -v keepalived >/dev/null || { _ha_err "keepalived is not installed (Debian package keepalived)"; return 1; }
  local dir; dir=$(_ha_dir "$node")
  if [ -n "$(ha_pids "$node" keepalived)" ]; then _ha_err "keepalived already runs in $node"; return 1; fi
  mkdir -p "$dir" && chmod 0755 "$HA_LAB_DIR" "$dir"
  [ "$file" = "$dir/keepalived.conf" ] || cp "$file" "$dir/keepalived.conf"
  rm -f "$(_ha_record "$node")" "$dir/keepalived.pid" "$dir/keepalived.vrrp.pid"
  # The check resolves interfaces: run it where keepalived will run.
  ip netns exec "$(ns "$node")" keepalived -t -f "$dir/keepalived.conf" >"$dir/keepalived.check" 2>&1 || {
    _ha_err "keepalived -t refused $dir/keepalived.conf:"; cat "$dir/keepalived.check" >&2; return 1; }
  # Its own session (a ^C to whoever started it does not reach it), nothing inherited.
  local netns; netns=$(ns "$node")
  (_ha_close_inherited
    # Its scripts (gatepeer health, gatepeer ha notify) inherit the environment: they
    # read and write this node's gatepeer state, never /var/lib/gatepeer.
    GATEPEER_STATE_DIR="$dir/gatepeer.state" exec setsid ip netns exec "$netns" keepalived --vrrp --dont-fork --log-console --log-detail --no-syslog \
      -f "$dir/keepalived.conf" -p "$dir/keepalived.pid" -r "$dir/keepalived.vrrp.pid" \
      </dev/null >>"$dir/keepalived.log" 2>&1) &
  local i
  for i in $(seq 50); do
    _ha_pidfile_pid "$dir/keepalived.vrrp.pid" "$node" >/dev/null && return 0
    sleep 0.1
  done
  _ha_err "keepalived did not start in $node:"; tail -n 20 "$dir/keepalived.log" >&2; return 1
}

# ha_gatepeer_start NODE BIN CONFIG
#   Starts `BIN run -c CONFIG --resync 3600` in NODE with its own state directory.
ha_gatepeer_start() {
  local node=$1 bin=$2 config=$3
  _ha_node "$node" || return 2
  [ -x "$bin" ] || { _ha_err "no gatepeer binary at '$bin'"; return 2; }
  local dir; dir=$(_ha_dir "$node")
  if [ -n "$(ha_pids "$node" gatepeer)" ]; then _ha_err "gatepeer already runs in $node"; return 1; fi
  mkdir -p "$dir/gatepeer.state" && chmod 0755 "$HA_LAB_DIR" "$dir"
  # The subshell, setsid (not a group leader here: no job control) and ip netns exec
  # all exec the next command, so $! is gatepeer's own pid. Nothing inherited.
  local netns; netns=$(ns "$node")
  (_ha_close_inherited
    GATEPEER_STATE_DIR="$dir/gatepeer.state" exec setsid ip netns exec "$netns" "$bin" run -c "$config" --resync 3600 \
      </dev/null >>"$dir/gatepeer.log" 2>&1) &
  echo $! >"$dir/gatepeer.pid"
  disown $! 2>/dev/null || true
}

# ha_link NODE down|up
#   Takes NODE's eth0 down, or up again. Up also puts back the lab's route to the VPGs'
#   underlay (100.64.0.0/10 via canal): the kernel deleted it with the link, as it does
#   every route through a device that goes down, and a VM's network manager (DHCP,
#   networkd) would add it again. Without it the vxlan packets of a node that becomes
#   master later leave by the default route (the uplink) and never reach a VPG.
ha_link() {
  local node=$1 state=$2
  _ha_node "$node" || return 2
  case $state in
    down) ip -n "$(ns "$node")" link set eth0 down ;;
    up)
      ip -n "$(ns "$node")" link set eth0 up &&
        ip -n "$(ns "$node")" route replace 100.64.0.0/10 via 172.31.0.1 dev eth0 ;;
    *) _ha_err "ha_link: down or up, not '$state'"; return 2 ;;
  esac
}

# ha_pids NODE keepalived|gatepeer
ha_pids() {
  local node=$1 what=$2 dir f
  dir=$(_ha_dir "$node")
  case $what in
    keepalived) for f in keepalived.pid keepalived.vrrp.pid; do _ha_pidfile_pid "$dir/$f" "$node" || true; done ;;
    gatepeer) _ha_pidfile_pid "$dir/gatepeer.pid" "$node" || true ;;
    *) _ha_err "ha_pids: keepalived or gatepeer, not '$what'"; return 2 ;;
  esac
}

# ha_state NODE
ha_state() {
  local node=$1 dir
  _ha_node "$node" || return 2
  dir=$(_ha_dir "$node")
  local record s
  record=$(_ha_record "$node")
  if [ ! -f "$dir/keepalived.vrrp.pid" ]; then
    # keepalived removes its pid files when it stops cleanly: STOP when it said so last,
    # none otherwise (never started here, or a record it can no longer stand behind).
    if [ -f "$record" ] && s=$(jq -er '.state' "$record" 2>/dev/null) && [[ $s == STOP || $s == DELETED ]]; then echo "$s"; else echo none; fi
    return 0
  fi
  _ha_pidfile_pid "$dir/keepalived.vrrp.pid" "$node" >/dev/null || { echo dead; return 0; }
  if [ -f "$record" ] && s=$(jq -er '.state' "$record" 2>/dev/null); then echo "$s"; else echo INIT; fi
}

# ha_stop NODE [keepalived|gatepeer]
ha_stop() {
  local node=$1 what=${2:-} w p pids=() i
  # No daemon named: the node's conntrackd goes too.
  [ -n "$what" ] || ha_conntrackd_stop "$node"
  for w in ${what:-keepalived gatepeer}; do
    # Parent first: keepalived's parent stops its VRRP child, which removes the VIPs.
    while read -r p; do [ -n "$p" ] && pids+=("$p"); done < <(ha_pids "$node" "$w")
  done
  ((${#pids[@]})) || return 0
  # A frozen process (SIGSTOP) holds SIGTERM until it runs again.
  kill -CONT "${pids[@]}" 2>/dev/null || true
  kill -TERM "${pids[0]}" 2>/dev/null || true
  ((${#pids[@]} > 1)) && { sleep 0.2; kill -TERM "${pids[@]:1}" 2>/dev/null || true; }
  for i in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do _ha_ours "$p" "$node" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  for p in "${pids[@]}"; do _ha_ours "$p" "$node" && kill -KILL "$p" 2>/dev/null; done
  return 0
}

ha_stop_all() {
  local n
  [ -d "$HA_LAB_DIR" ] || return 0
  for n in "${HA_NODES[@]}"; do ha_stop "$n"; done
  ha_conntrackd_stop_all
}
