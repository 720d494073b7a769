# shellcheck shell=bash
# ha-conntrackd.sh: Debian's conntrackd in the HA lab's peer namespaces, on the file
# `gatepeer ha render --conntrackd` writes from the node's gatepeer.json (the one `ha up`
# wrote). Source it after scripts/lib/ha-lab.sh (it uses _ha_dir, _ha_node, _ha_ours,
# _ha_pidfile_pid, _ha_close_inherited); it defines functions and sets no traps.
#
# Files under $HA_LAB_DIR/NODE/ (scripts/lab ha dir NODE):
#   conntrackd.conf   what `BIN ha render --conntrackd` wrote (render.conntrackd.log: its
#                     stderr, the notes included)
#   conntrackd.pid    the daemon's pid (conntrackd -C FILE runs in the foreground)
#   conntrackd.log    its console output
# The rendered LockFile and UNIX Path must lie in that directory (the config's
# ha.conntrackd.lockFile and socketPath): two nodes, two labs and the host never share a
# lock or a socket, and the host's /var/lock and /var/run are never touched. A file
# whose paths point elsewhere is refused before conntrackd starts.
#
# Functions:
#   ha_conntrackd_start NODE BIN   render, start conntrackd -C FILE in NODE, return once it
#                                  answers `conntrackd -C FILE -s` on its socket (5 s)
#   ha_conntrackd_pids NODE        its pid when it runs
#   ha_conntrackd_stop NODE        by pid: SIGTERM, SIGKILL after 5 s
#   ha_conntrackd_stop_all         on every HA node (ha_stop_all, scripts/lab down)

# ha_conntrackd_start NODE BIN
ha_conntrackd_start() {
  local node=$1 bin=$2
  _ha_node "$node" || return 2
  command -v conntrackd >/dev/null || { _ha_err "conntrackd is not installed (Debian package conntrackd)"; return 1; }
  [ -x "$bin" ] || { _ha_err "no gatepeer binary at '$bin'"; return 2; }
  local dir conf netns; dir=$(_ha_dir "$node"); conf=$dir/conntrackd.conf; netns=$(ns "$node")
  [ -f "$dir/gatepeer.json" ] || { _ha_err "no $dir/gatepeer.json: start the node with 'ha up' first"; return 1; }
  if [ -n "$(ha_conntrackd_pids "$node")" ]; then _ha_err "conntrackd already runs in $node"; return 1; fi
  GATEPEER_STATE_DIR="$dir/gatepeer.state" ip netns exec "$netns" "$bin" ha render --conntrackd -c "$dir/gatepeer.json" \
    -o "$conf" 2>"$dir/render.conntrackd.log" || {
    _ha_err "gatepeer ha render --conntrackd failed in $node:"; cat "$dir/render.conntrackd.log" >&2; return 1; }
  local lock sock
  lock=$(awk '$1 == "LockFile" { print $2 }' "$conf")
  sock=$(awk '$1 == "Path" { print $2 }' "$conf")
  [[ $lock == "$dir"/* && $sock == "$dir"/* ]] || {
    _ha_err "$conf: LockFile '$lock' and UNIX Path '$sock' must lie in $dir (set ha.conntrackd.lockFile and socketPath)"; return 1; }
  rm -f "$dir/conntrackd.pid" "$sock"
  # Its own session, nothing inherited; ip netns exec execs it, so $! is its pid.
  (_ha_close_inherited
    exec setsid ip netns exec "$netns" conntrackd -C "$conf" </dev/null >>"$dir/conntrackd.log" 2>&1) &
  local pid=$! i
  echo "$pid" >"$dir/conntrackd.pid"
  disown "$pid" 2>/dev/null || true
  # Our own child's pid, alive or not: right after the fork it is not in the node's
  # namespace yet (ip netns exec has not run), so ha_conntrackd_pids would not name it.
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    ip netns exec "$netns" conntrackd -C "$conf" -s >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  _ha_err "conntrackd did not start in $node:"; tail -n 20 "$dir/conntrackd.log" >&2
  kill -TERM "$pid" 2>/dev/null || true
  ha_conntrackd_stop "$node"
  return 1
}

# ha_conntrackd_pids NODE
ha_conntrackd_pids() { _ha_pidfile_pid "$(_ha_dir "$1")/conntrackd.pid" "$1" || true; }

# ha_conntrackd_stop NODE
ha_conntrackd_stop() {
  local node=$1 p i
  p=$(ha_conntrackd_pids "$node")
  [ -n "$p" ] || return 0
  kill -CONT "$p" 2>/dev/null || true
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 50); do
    _ha_ours "$p" "$node" || return 0
    sleep 0.1
  done
  _ha_ours "$p" "$node" && kill -KILL "$p" 2>/dev/null
  return 0
}

ha_conntrackd_stop_all() {
  local n
  for n in "${HA_NODES[@]}"; do ha_conntrackd_stop "$n"; done
}
