# shellcheck shell=bash
# systemd-lab.sh: a real systemd as PID 1 in a throwaway container, to start the
# shipped unit (netconfig/systemd/gatepeer.service) the way a peer VM does.
# Source it (callers run with `set -euo pipefail`) or run it as
#   scripts/lib/systemd-lab.sh up|exec|net|journal|down|sweep ARGS...
# It defines functions and sets no traps: a caller traps EXIT/INT/TERM and calls
# systemd_lab_down (or systemd_lab_sweep).
#
# The root is a Debian bookworm minbase with systemd, dbus, procps (/bin/kill for the
# unit's ExecReload) and the C libraries gatepeer links (libmnl0, libnftables1), made
# once by debootstrap and cached under $SYSTEMD_LAB_CACHE; a second run reuses it.
# systemd-nspawn boots it with --volatile=overlay: the cached root is the read-only
# lower layer under a tmpfs, so a container writes nothing into the cache and leaves
# no copy behind. Bound read-only into it at the paths the unit names:
#   $ROOT/netconfig/systemd/gatepeer.service -> /etc/systemd/system/gatepeer.service
#   $SYSTEMD_LAB_BIN (default $GATEPEER_BIN)  -> /usr/local/bin/gatepeer
#   the Swift runtime directory in the binary's RUNPATH (same path inside)
# --private-network: the container has a network namespace of its own, made by
# nspawn for it, which dies with it; nothing on the host's network changes.
# --register=no --keep-unit: nspawn asks no host systemd or machined (the host may
# have neither running) and starts no host service.
#
# Functions (documented where defined):
#   systemd_lab_packages           install systemd-container and debootstrap if missing
#   systemd_lab_root               the cached root's path (debootstrap it first if absent)
#   systemd_lab_up NAME            boot a container, wait until systemd is up; a
#                                  watcher stops it when its owner process dies
#   systemd_lab_exec NAME CMD...   run CMD inside (all its namespaces, its files)
#   systemd_lab_net NAME CMD...    run a host CMD in the container's network namespace
#   systemd_lab_journal NAME [UNIT] the container's journal (of UNIT), plain text
#   systemd_lab_down NAME          poweroff, wait, kill nspawn by PID if it lingers
#   systemd_lab_sweep              systemd_lab_down every container this lab started
#
# Environment:
#   SYSTEMD_LAB_CACHE  cached roots (default /var/cache/gatepeer-test)
#   SYSTEMD_LAB_RUN    per-container state: nspawn.pid, init.pid, nspawn.log
#                      (default /run/gatepeer-systemd-lab)
#   SYSTEMD_LAB_BIN    the gatepeer binary to install (default $GATEPEER_BIN, else
#                      $ROOT/.build/debug/gatepeer)
#   SYSTEMD_LAB_OWNER  the PID whose death stops the container (default: the shell
#                      that sourced this file; run as a command, its parent)
#   SYSTEMD_LAB_WAIT   seconds to wait for a boot or a shutdown (default 240: a slow
#                      2-core VM boots a container in 5-20 s, more under load)

export PATH="/usr/sbin:/sbin:/usr/bin:/bin:$PATH"
SYSTEMD_LAB_ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SYSTEMD_LAB_CACHE=${SYSTEMD_LAB_CACHE:-/var/cache/gatepeer-test}
SYSTEMD_LAB_RUN=${SYSTEMD_LAB_RUN:-/run/gatepeer-systemd-lab}
SYSTEMD_LAB_WAIT=${SYSTEMD_LAB_WAIT:-240}
SYSTEMD_LAB_PACKAGES=(systemd-container debootstrap)
# Part of the cache's name: a changed list builds a new root instead of reusing one
# that lacks a package.
SYSTEMD_LAB_INCLUDE=systemd,dbus,procps,libmnl0,libnftables1

_systemd_lab_err() { echo "systemd-lab: $*" >&2; }

# systemd_lab_packages
#   Installs SYSTEMD_LAB_PACKAGES (apt-get) when nspawn or debootstrap is missing.
#   Neither starts a host service: without systemd as the host's PID 1 their postinst
#   only leaves unit symlinks, and nspawn runs with --register=no (no machined).
systemd_lab_packages() {
  command -v systemd-nspawn >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 && return 0
  echo "systemd-lab: installing ${SYSTEMD_LAB_PACKAGES[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${SYSTEMD_LAB_PACKAGES[@]}" >/dev/null
}

# systemd_lab_root
#   Prints the cached root's path; builds it first when absent (debootstrap, about a
#   minute, from Debian's archive as configured by debootstrap's default). Built into
#   a temporary directory and renamed when complete, under a lock, so an interrupted
#   or concurrent build never leaves a half root that a later run would boot.
systemd_lab_root() {
  local key dir
  key=$(printf '%s' "bookworm minbase $SYSTEMD_LAB_INCLUDE" | sha256sum | cut -c1-12)
  dir="$SYSTEMD_LAB_CACHE/bookworm-systemd-$key"
  mkdir -p "$SYSTEMD_LAB_CACHE"
  (
    flock -w 900 9 || { _systemd_lab_err "timed out waiting for $SYSTEMD_LAB_CACHE/.lock"; exit 1; }
    [ -x "$dir/lib/systemd/systemd" ] && exit 0
    systemd_lab_packages
    rm -rf "$dir.tmp"
    echo "systemd-lab: debootstrap bookworm into $dir (once; cached)" >&2
    if ! debootstrap --variant=minbase --include="$SYSTEMD_LAB_INCLUDE" bookworm "$dir.tmp" >"$SYSTEMD_LAB_CACHE/debootstrap.log" 2>&1; then
      _systemd_lab_err "debootstrap failed; see $SYSTEMD_LAB_CACHE/debootstrap.log"
      tail -n 5 "$SYSTEMD_LAB_CACHE/debootstrap.log" >&2
      rm -rf "$dir.tmp"
      exit 1
    fi
    # A machine-id makes journald keep a journal; the container's hostname is the
    # machine name nspawn gives it.
    systemd-machine-id-setup --root="$dir.tmp" >/dev/null 2>&1 || true
    mv "$dir.tmp" "$dir"
  ) 9>"$SYSTEMD_LAB_CACHE/.lock" || return 1
  echo "$dir"
}

_systemd_lab_valid_name() {
  [[ "${1:-}" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { _systemd_lab_err "bad container name '${1:-}' (a-z, 0-9, '-', up to 31)"; return 2; }
}

# The container's PID 1 as the host sees it (recorded by systemd_lab_up).
_systemd_lab_init() {
  local f="$SYSTEMD_LAB_RUN/$1/init.pid" pid
  pid=$(cat "$f" 2>/dev/null) || { _systemd_lab_err "no container $1 (no $f)"; return 1; }
  [ -d "/proc/$pid" ] || { _systemd_lab_err "container $1 is not running (init PID $pid gone)"; return 1; }
  echo "$pid"
}

# systemd_lab_up NAME
#   Boots a container named NAME (machine name and hostname) from the cached root
#   with the unit, the binary and the Swift runtime bound in; returns once
#   `systemctl is-system-running` says running or degraded (up to SYSTEMD_LAB_WAIT s).
#   On failure it stops what it started and prints the tail of nspawn's console.
systemd_lab_up() {
  local name=${1:-} root bin runtime dir nspawn init state deadline owner=${SYSTEMD_LAB_OWNER:-$$}
  _systemd_lab_valid_name "$name" || return 2
  bin=${SYSTEMD_LAB_BIN:-${GATEPEER_BIN:-$SYSTEMD_LAB_ROOT_DIR/.build/debug/gatepeer}}
  [ -x "$bin" ] || { _systemd_lab_err "no gatepeer binary at $bin (swift build)"; return 1; }
  # The runtime the binary links against, found where its RUNPATH says.
  runtime=$(ldd "$bin" | awk '$1 == "libswiftCore.so" { print $3 }')
  runtime=${runtime%/*}
  [ -n "$runtime" ] && [ -d "$runtime" ] || { _systemd_lab_err "cannot find the Swift runtime $bin links against (ldd)"; return 1; }
  systemd_lab_packages
  root=$(systemd_lab_root) || return 1
  dir="$SYSTEMD_LAB_RUN/$name"
  [ ! -e "$dir" ] || { _systemd_lab_err "container $name exists ($dir)"; return 1; }
  mkdir -p "$dir"
  # setsid: a ^C on the caller's terminal reaches the caller, not nspawn directly
  # (which would race the caller's own systemd_lab_down).
  _systemd_lab_detach systemd-nspawn -D "$root" --volatile=overlay -M "$name" \
    --private-network --register=no --keep-unit -b --console=passive \
    --bind-ro="$SYSTEMD_LAB_ROOT_DIR/netconfig/systemd/gatepeer.service:/etc/systemd/system/gatepeer.service" \
    --bind-ro="$bin:/usr/local/bin/gatepeer" \
    --bind-ro="$runtime" \
    </dev/null >"$dir/nspawn.log" 2>&1 &
  nspawn=$!
  echo "$nspawn" >"$dir/nspawn.pid"
  # PID 1 of the container: the process in a pid namespace other than nspawn's whose
  # ancestor is nspawn (nspawn's inner child, which execs systemd).
  deadline=$((SECONDS + SYSTEMD_LAB_WAIT))
  init=""
  while [ -z "$init" ] && [ $SECONDS -lt $deadline ] && kill -0 "$nspawn" 2>/dev/null; do
    init=$(_systemd_lab_find_init "$nspawn") || true
    [ -n "$init" ] || sleep 0.2
  done
  if [ -z "$init" ]; then
    _systemd_lab_err "container $name did not start; nspawn said:"
    tail -n 20 "$dir/nspawn.log" >&2
    systemd_lab_down "$name"
    return 1
  fi
  echo "$init" >"$dir/init.pid"
  # A caller killed before its teardown (^C on `swift test`, a crash) cannot stop the
  # container; this watcher does, once the owner is gone.
  _systemd_lab_detach bash -c 'source "$1"; while [ -d "$3" ] && kill -0 "$4" 2>/dev/null; do sleep 1; done
    [ ! -d "$3" ] || systemd_lab_down "$2"' watcher "${BASH_SOURCE[0]}" "$name" "$dir" "$owner" \
    </dev/null >/dev/null 2>&1 &
  state=""
  while [ $SECONDS -lt $deadline ] && kill -0 "$nspawn" 2>/dev/null; do
    state=$(nsenter -t "$init" -a systemctl is-system-running 2>/dev/null) || true
    case "$state" in running|degraded) return 0 ;; esac
    sleep 0.5
  done
  _systemd_lab_err "systemd in $name did not finish booting in ${SYSTEMD_LAB_WAIT}s (state '${state:-none}'); console:"
  tail -n 20 "$dir/nspawn.log" >&2
  systemd_lab_down "$name"
  return 1
}

# Runs CMD with only stdin, stdout and stderr, in a session of its own (setsid; a
# background job of a shell without job control leads no process group, so setsid
# does not fork and $! is CMD's PID). CMD outlives the caller, and any other
# descriptor it inherited would keep the caller's pipes or process-exit sockets open
# (Foundation's Process then waits for ever for a child that has exited).
_systemd_lab_detach() {
  local fd
  for fd in $(ls "/proc/$BASHPID/fd"); do
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
  done
  exec setsid "$@"
}

# Prints the PID of nspawn's descendant that is PID 1 of its own pid namespace.
_systemd_lab_find_init() {
  local nspawn=$1 p own
  own=$(readlink "/proc/$nspawn/ns/pid") || return 1
  for p in $(_systemd_lab_descendants "$nspawn"); do
    [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" != "$own" ] || continue
    # NSpid's last field is the PID inside the innermost namespace.
    awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$p/status" 2>/dev/null || continue
    echo "$p"
    return 0
  done
  return 1
}

_systemd_lab_descendants() {
  local c
  for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    echo "$c"
    _systemd_lab_descendants "$c"
  done
}

# systemd_lab_exec NAME CMD...
#   Runs CMD inside the container: its mount, pid, network, ipc, uts and cgroup
#   namespaces, so `systemctl`, `journalctl` and files are the container's. Stdin,
#   stdout and the exit status pass through.
systemd_lab_exec() { _systemd_lab_enter -a "$@"; }

# systemd_lab_net NAME CMD...
#   Runs the host's CMD (ip, bridge, nft, ss) in the container's network namespace
#   only: the container's own netns, made by nspawn, never the host's.
systemd_lab_net() { _systemd_lab_enter -n "$@"; }

# nsenter with NSFLAGS into container NAME's PID 1, then CMD.
_systemd_lab_enter() {
  local flags=$1 name=${2:-} init
  _systemd_lab_valid_name "$name" || return 2
  shift 2
  init=$(_systemd_lab_init "$name") || return 1
  nsenter -t "$init" "$flags" -- "$@"
}

# systemd_lab_journal NAME [UNIT]
#   The container's journal since boot (of UNIT when given), without pager or colour.
systemd_lab_journal() {
  local name=${1:-}
  if [ -n "${2:-}" ]; then
    systemd_lab_exec "$name" journalctl --no-pager -q -b -o short-monotonic -u "$2"
  else
    systemd_lab_exec "$name" journalctl --no-pager -q -b -o short-monotonic
  fi
}

# systemd_lab_down NAME
#   `systemctl poweroff` inside, waits (up to SYSTEMD_LAB_WAIT s) for nspawn to exit,
#   then SIGTERM and SIGKILL to the recorded nspawn PID if it lingers (nspawn's
#   children die with it: PR_SET_PDEATHSIG). Removes the state directory. The cached
#   root stays; the overlay's tmpfs goes with the container. Safe to call twice.
systemd_lab_down() {
  local name=${1:-} dir nspawn init deadline
  _systemd_lab_valid_name "$name" || return 2
  dir="$SYSTEMD_LAB_RUN/$name"
  [ -d "$dir" ] || return 0
  nspawn=$(cat "$dir/nspawn.pid" 2>/dev/null) || nspawn=""
  # Only our own nspawn: the PID must still be systemd-nspawn, not a reused number.
  if [ -n "$nspawn" ] && [ "$(cat "/proc/$nspawn/comm" 2>/dev/null)" = "systemd-nspawn" ]; then
    init=$(cat "$dir/init.pid" 2>/dev/null) || init=""
    if [ -n "$init" ] && [ -d "/proc/$init" ]; then
      timeout 30 nsenter -t "$init" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
    fi
    deadline=$((SECONDS + SYSTEMD_LAB_WAIT / 2))
    while kill -0 "$nspawn" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.3; done
    if kill -0 "$nspawn" 2>/dev/null; then
      _systemd_lab_err "container $name still running after poweroff; killing nspawn $nspawn"
      kill -TERM "$nspawn" 2>/dev/null || true
      deadline=$((SECONDS + 15))
      while kill -0 "$nspawn" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.3; done
      kill -KILL "$nspawn" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

# systemd_lab_sweep
#   systemd_lab_down for every container recorded under SYSTEMD_LAB_RUN (left by a
#   test that crashed or was interrupted).
systemd_lab_sweep() {
  local d
  for d in "$SYSTEMD_LAB_RUN"/*/; do
    [ -d "$d" ] || continue
    systemd_lab_down "$(basename "$d")" || true
  done
}

# Run as a script: dispatch to the function named by the first argument.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  # Run as a command, the container belongs to whoever ran it (a test process).
  export SYSTEMD_LAB_OWNER=${SYSTEMD_LAB_OWNER:-$PPID}
  cmd=${1:-}
  shift || true
  case "$cmd" in
    up|exec|net|journal|down|sweep|root|packages) "systemd_lab_$cmd" "$@" ;;
    *) echo "usage: ${0##*/} up|exec|net|journal|down|sweep|root|packages ARGS..." >&2; exit 2 ;;
  esac
fi
