# shellcheck shell=bash
# ipsec-lab.sh: two real strongSwan charon daemons in two network namespaces.
# Source it (callers run with `set -euo pipefail`); it defines functions and sets no
# traps: the caller traps EXIT/INT/TERM and calls ipsec_lab_down.
#
#   ${PREFIX}-a                                             ${PREFIX}-b
#   lo  10.1.0.1/24 (protected)                             lo  10.2.0.1/24 (protected)
#   out0 192.0.2.1/24  <------------ veth ------------->  out0 192.0.2.2/24
#
# Both veth ends are created directly inside the namespaces; nothing is created or
# changed in the host namespace, and nothing is written under the host's /etc.
# Each side's charon runs in a private mount namespace (made by
#   ip netns exec NS unshare -m --propagation private)
# with a tmpfs over /run (its own vici socket /run/charon.vici, pid file) and
# $IPSEC_LAB_DIR/SIDE/swanctl bind-mounted over /etc/swanctl; it reads
# $IPSEC_LAB_DIR/SIDE/strongswan.conf through STRONGSWAN_CONF and logs to
# $IPSEC_LAB_DIR/SIDE/charon.log. This kernel has XFRM but no ESP transform, so
# charon loads kernel-libipsec: ESP in user space over a TUN device (ipsec0),
# always UDP-encapsulated (port 4500), routes in table 220 inside the namespace.
# Limit: strongSwan 5.9's libipsec sends no acquire for packets that hit a trap
# policy (ipsec_processor.c: "TODO-IPSEC: send an acquire"), so start_action = trap
# loads, installs the trap policy and holds (drops) matching traffic, but traffic
# never starts the tunnel: use `swanctl --initiate --child NAME` (or start).
#
# Functions (documented where defined):
#   ipsec_lab_packages                 install the Debian packages if a piece is missing
#   ipsec_lab_up PREFIX                namespaces, veth, addresses, work dir
#   ipsec_lab_start SIDE               write strongswan.conf, start charon, await vici
#   ipsec_lab_exec SIDE CMD...         run CMD in SIDE's network + mount namespace
#   ipsec_lab_wait_child SIDE CHILD T  wait until CHILD is INSTALLED on SIDE
#   ipsec_lab_ping FROM DEST [SRC]     ping from a namespace
#   ipsec_lab_add_protected SIDE A/LEN another protected subnet on SIDE's lo
#   ipsec_lab_down [PREFIX]            kill charons, delete namespaces + work dir
#   libreswan_check_config FILE        check an ipsec.conf with libreswan's addconn + algparse
#
# Environment:
#   IPSEC_LAB_DIR     (set by ipsec_lab_up) work dir: a/ and b/ with strongswan.conf,
#                     swanctl/ (mounted over /etc/swanctl), charon.log, charon.pid
#   IPSEC_LAB_PREFIX  (set by ipsec_lab_up) namespace prefix
#   IPSEC_LAB_CHARON  daemon binary (default /usr/sbin/charon-systemd, else
#                     /usr/lib/ipsec/charon); both read the `charon` section
#   IPSEC_LAB_LOGLEVEL charon filelog default level (default 1)
#   LIBRESWAN_DIR     cache for the unpacked libreswan package
#                     (default /var/tmp/gatepeer-libreswan)

# shellcheck source=netns.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
# shellcheck source=quiet-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/quiet-install.sh"
export PATH="/usr/sbin:/sbin:$PATH"

# charon-systemd instead of strongswan-charon: strongswan-charon depends on
# strongswan-starter, whose postinst runs `update-rc.d ipsec defaults` and
# `invoke-rc.d ipsec start` (a host daemon). charon-systemd ships no init script and
# only starts strongswan.service when systemd runs (see ipsec_lab_packages).
IPSEC_LAB_PACKAGES=(charon-systemd strongswan-swanctl libcharon-extra-plugins
  libstrongswan-standard-plugins iproute2 iputils-ping tcpdump util-linux)

# Plugins charon loads (no modular loading: nothing from /etc/strongswan.d).
IPSEC_LAB_PLUGINS="random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 pkcs8 x509 pubkey kernel-libipsec kernel-netlink socket-default vici"

_ipsec_lab_err() { echo "ipsec-lab: $*" >&2; }

_ipsec_lab_charon_bin() {
  if [ -n "${IPSEC_LAB_CHARON:-}" ]; then [ -x "$IPSEC_LAB_CHARON" ] && echo "$IPSEC_LAB_CHARON"
  elif [ -x /usr/sbin/charon-systemd ]; then echo /usr/sbin/charon-systemd
  elif [ -x /usr/lib/ipsec/charon ]; then echo /usr/lib/ipsec/charon
  else return 1
  fi
}

# ipsec_lab_packages
#   Installs IPSEC_LAB_PACKAGES (apt-get update && apt-get install -y
#   --no-install-recommends) only when a needed binary or plugin is missing.
#   Starts no service: charon-systemd's postinst starts strongswan.service only when
#   systemd is running; a temporary /usr/sbin/policy-rc.d that answers 101 ("action
#   forbidden") is in place during the install (install_without_services,
#   quiet-install.sh; only if the host has none) and removed afterwards, and the boot-time enabling
#   Debian's postinst did for a freshly installed charon-systemd is undone with
#   `systemctl disable strongswan.service`. Without systemd (this VM) the postinst
#   only leaves inert symlinks under /etc/systemd/system.
ipsec_lab_packages() {
  local need=0 f
  command -v swanctl >/dev/null 2>&1 || need=1
  _ipsec_lab_charon_bin >/dev/null || need=1
  for f in kernel-libipsec kernel-netlink socket-default vici openssl gcm; do
    [ -e "/usr/lib/ipsec/plugins/libstrongswan-$f.so" ] || need=1
  done
  for f in ip ping tcpdump unshare nsenter; do
    command -v "$f" >/dev/null 2>&1 || need=1
  done
  [ "$need" -eq 0 ] && return 0

  local rc=0 had_unit=1
  dpkg-query -W -f='${Status}' charon-systemd 2>/dev/null | grep -q "install ok installed" || had_unit=0
  install_without_services ipsec-lab "${IPSEC_LAB_PACKAGES[@]}" || rc=$?
  if [ -d /run/systemd/system ] && [ "$had_unit" -eq 0 ]; then
    systemctl disable --quiet strongswan.service 2>/dev/null || true
  fi
  return "$rc"
}

_ipsec_lab_side_ok() {
  case "${1:-}" in a|b) return 0 ;; esac
  _ipsec_lab_err "side must be a or b, got '${1:-}'"
  return 2
}

_ipsec_lab_need_up() {
  if [ -z "${IPSEC_LAB_DIR:-}" ] || [ ! -d "$IPSEC_LAB_DIR" ] || [ -z "${IPSEC_LAB_PREFIX:-}" ]; then
    _ipsec_lab_err "lab is not up (call ipsec_lab_up PREFIX first)"
    return 1
  fi
}

# Pid of SIDE's charon (it holds the side's mount namespace) if it is running.
_ipsec_lab_pid() {
  local f="$IPSEC_LAB_DIR/$1/charon.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Kills every process in namespace $1 (TERM, then KILL after ~3 s) and deletes it.
_ipsec_lab_del_ns() {
  local ns=$1 pids
  ns_exists "$ns" || return 0
  mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 30); do
      mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
      [ ${#pids[@]} -eq 0 ] && break
      sleep 0.1
    done
    if [ ${#pids[@]} -gt 0 ]; then kill -KILL "${pids[@]}" 2>/dev/null || true; sleep 0.2; fi
  fi
  ip netns del "$ns" 2>/dev/null || true
}

# Writes the default $IPSEC_LAB_DIR/SIDE/strongswan.conf.
_ipsec_lab_write_conf() {
  local s=$1 d=$IPSEC_LAB_DIR/$1
  cat >"$d/strongswan.conf" <<EOF
# strongswan.conf for ipsec-lab side $s (charon-systemd falls back to "charon")
charon {
  load_modular = no
  load = $IPSEC_LAB_PLUGINS
  install_routes = yes
  filelog {
    lab {
      path = $d/charon.log
      time_format = %H:%M:%S
      default = ${IPSEC_LAB_LOGLEVEL:-1}
      ike_name = yes
      flush_line = yes
      append = yes
    }
  }
  syslog {
  }
}
charon-systemd {
  journal {
    default = -1
  }
}
swanctl {
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2
}
EOF
}

# ipsec_lab_up PREFIX
#   PREFIX: [a-z0-9][a-z0-9-]{0,11} (default gpi). Creates namespaces PREFIX-a and
#   PREFIX-b (a stale lab with the same prefix is removed first), the veth pair out0
#   <-> out0 inside them, A: 192.0.2.1/24 + protected 10.1.0.1/24 on lo, B:
#   192.0.2.2/24 + protected 10.2.0.1/24 on lo. No route to the remote protected
#   subnet: only the tunnel (kernel-libipsec's table 220) provides one. Exports
#   IPSEC_LAB_PREFIX and IPSEC_LAB_DIR (mktemp -d /tmp/gatepeer-ipsec-PREFIX.XXXXXX)
#   with SIDE/swanctl/{conf.d,x509,x509ca,...,private,...} and a swanctl.conf that
#   only includes conf.d/*.conf (replace it or drop files into conf.d), and the
#   default SIDE/strongswan.conf (plugins $IPSEC_LAB_PLUGINS incl. kernel-libipsec,
#   filelog to SIDE/charon.log); edit or replace it before ipsec_lab_start.
ipsec_lab_up() {
  local p=${1:-gpi} s
  if ! [[ $p =~ ^[a-z0-9][a-z0-9-]{0,11}$ ]]; then
    _ipsec_lab_err "bad prefix '$p' (want [a-z0-9][a-z0-9-]{0,11})"
    return 2
  fi
  if [ ! -d /etc/swanctl ]; then
    _ipsec_lab_err "/etc/swanctl missing (run ipsec_lab_packages); it is the bind-mount target"
    return 1
  fi
  _ipsec_lab_del_ns "$p-a"
  _ipsec_lab_del_ns "$p-b"
  IPSEC_LAB_PREFIX=$p
  IPSEC_LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gatepeer-ipsec-$p.XXXXXX")
  export IPSEC_LAB_PREFIX IPSEC_LAB_DIR
  chmod 700 "$IPSEC_LAB_DIR"
  for s in a b; do
    mkdir -p "$IPSEC_LAB_DIR/$s/swanctl"
    (cd "$IPSEC_LAB_DIR/$s/swanctl" &&
      mkdir -p conf.d x509 x509ca x509aa x509ac x509crl x509ocsp pubkey private rsa ecdsa bliss pkcs8 pkcs12 &&
      chmod 700 private rsa ecdsa bliss pkcs8 pkcs12)
    printf '# lab default: put connections into conf.d/ or replace this file\ninclude conf.d/*.conf\n' \
      >"$IPSEC_LAB_DIR/$s/swanctl/swanctl.conf"
    _ipsec_lab_write_conf "$s"
  done
  ns_register "$p-a"
  ns_register "$p-b"
  ip netns add "$p-a"
  ip netns add "$p-b"
  ip -n "$p-a" link set lo up
  ip -n "$p-b" link set lo up
  ip -n "$p-a" link add out0 type veth peer name out0 netns "$p-b"
  ip -n "$p-a" addr add 192.0.2.1/24 dev out0
  ip -n "$p-b" addr add 192.0.2.2/24 dev out0
  ip -n "$p-a" addr add 10.1.0.1/24 dev lo
  ip -n "$p-b" addr add 10.2.0.1/24 dev lo
  ip -n "$p-a" link set out0 up
  ip -n "$p-b" link set out0 up
}

# ipsec_lab_start SIDE
#   SIDE: a or b. (Re)writes the default $IPSEC_LAB_DIR/SIDE/strongswan.conf if it
#   is missing (ipsec_lab_up wrote one; a caller's edits are kept), starts charon in SIDE's namespace with a
#   private /run and /etc/swanctl, records its pid in SIDE/charon.pid and waits up to
#   15 s for its vici socket. Non-zero (log tail on stderr) if it does not come up.
ipsec_lab_start() {
  local s=${1:-} d bin pid ns
  _ipsec_lab_side_ok "$s" || return
  _ipsec_lab_need_up || return
  d=$IPSEC_LAB_DIR/$s
  ns=$IPSEC_LAB_PREFIX-$s
  if pid=$(_ipsec_lab_pid "$s"); then
    _ipsec_lab_err "charon for side $s already runs (pid $pid)"
    return 1
  fi
  bin=$(_ipsec_lab_charon_bin) || { _ipsec_lab_err "no charon binary (run ipsec_lab_packages)"; return 1; }
  [ -e "$d/strongswan.conf" ] || _ipsec_lab_write_conf "$s"
  : >"$d/charon.log"
  # ip netns exec -> unshare -> sh -> charon all exec(): $! becomes charon's pid.
  # The daemon gets no descriptor of ours beyond 0-2: a caller's pipe or the socket a
  # supervisor (e.g. Foundation's Process) watches for the caller's exit would stay
  # open for as long as charon runs.
  # shellcheck disable=SC2016 # $1/$2 expand in the inner sh
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec ip netns exec "$ns" unshare -m --propagation private sh -c '
    mount -t tmpfs -o mode=0755 tmpfs /run &&
    mount --bind "$1/swanctl" /etc/swanctl &&
    cd / && STRONGSWAN_CONF="$1/strongswan.conf" exec "$2"' sh "$d" "$bin"
  ) </dev/null >"$d/charon.out" 2>&1 &
  pid=$!
  echo "$pid" >"$d/charon.pid"
  for _ in $(seq 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      _ipsec_lab_err "charon for side $s exited"
      tail -n 30 "$d/charon.out" "$d/charon.log" >&2 || true
      rm -f "$d/charon.pid"
      return 1
    fi
    # Only once the pid runs the daemon are the private mounts in place.
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ] &&
      nsenter -t "$pid" -m test -S /run/charon.vici 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  _ipsec_lab_err "charon for side $s: no vici socket after 15 s"
  tail -n 30 "$d/charon.out" "$d/charon.log" >&2 || true
  return 1
}

# ipsec_lab_exec SIDE CMD...
#   Runs CMD in SIDE's network namespace and (while its charon runs) its charon's
#   mount namespace: /run/charon.vici and /etc/swanctl are the side's, so plain
#   `swanctl --load-all` works. Environment, including PATH, is preserved,
#   STRONGSWAN_CONF points at the side's strongswan.conf, and the working directory
#   is kept. Before ipsec_lab_start it runs in a fresh private mount namespace with
#   the same /etc/swanctl (and an empty /run). Returns CMD's status.
ipsec_lab_exec() {
  local s=${1:-} pid wd env=()
  _ipsec_lab_side_ok "$s" || return
  _ipsec_lab_need_up || return
  shift
  [ $# -gt 0 ] || { _ipsec_lab_err "ipsec_lab_exec: no command"; return 2; }
  wd=$PWD
  case "$wd" in /run | /run/*) wd=/ ;; esac
  if pid=$(_ipsec_lab_pid "$s"); then
    STRONGSWAN_CONF="$IPSEC_LAB_DIR/$s/strongswan.conf" \
      nsenter -t "$pid" -m -n --wd="$wd" -- "$@"
  else
    if [ -e "$IPSEC_LAB_DIR/$s/strongswan.conf" ]; then
      env=("STRONGSWAN_CONF=$IPSEC_LAB_DIR/$s/strongswan.conf")
    fi
    # shellcheck disable=SC2016 # $1/$2 expand in the inner sh
    env "${env[@]}" ip netns exec "$IPSEC_LAB_PREFIX-$s" unshare -m --propagation private sh -c '
        mount -t tmpfs -o mode=0755 tmpfs /run &&
        mount --bind "$1/swanctl" /etc/swanctl && cd "$2" && shift 2 && exec "$@"' \
      sh "$IPSEC_LAB_DIR/$s" "$wd" "$@"
  fi
}

# ipsec_lab_wait_child SIDE CHILDNAME TIMEOUT_S
#   Polls `swanctl --list-sas` on SIDE every 0.5 s until a CHILD_SA named CHILDNAME
#   is INSTALLED (returns 0). On timeout returns 1 and prints the last SAs and the
#   tail of SIDE's charon log on stderr.
ipsec_lab_wait_child() {
  local s=${1:-} child=${2:-} t=${3:-30} end out
  _ipsec_lab_side_ok "$s" || return
  _ipsec_lab_need_up || return
  [ -n "$child" ] || { _ipsec_lab_err "ipsec_lab_wait_child: no child name"; return 2; }
  end=$((SECONDS + t))
  while :; do
    out=$(ipsec_lab_exec "$s" swanctl --list-sas 2>&1 || true)
    if awk -v c="$child" '$1 == c ":" && / INSTALLED,/ {f=1} END {exit !f}' <<<"$out"; then
      return 0
    fi
    [ "$SECONDS" -lt "$end" ] || break
    sleep 0.5
  done
  _ipsec_lab_err "side $s: CHILD_SA '$child' not INSTALLED after ${t}s; swanctl --list-sas:"
  printf '%s\n' "$out" | sed 's/^/    /' >&2
  _ipsec_lab_err "tail of $IPSEC_LAB_DIR/$s/charon.log:"
  tail -n 40 "$IPSEC_LAB_DIR/$s/charon.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  return 1
}

# ipsec_lab_add_protected SIDE ADDRESS/LEN
#   Adds ADDRESS/LEN to SIDE's loopback (inside the lab's namespace): another protected
#   subnet, e.g. ipsec_lab_add_protected a 10.1.1.1/24 for a site with several subnets.
#   Like the first ones it has no route to the other side but the tunnel.
ipsec_lab_add_protected() {
  local s=${1:-} addr=${2:-}
  _ipsec_lab_side_ok "$s" || return
  _ipsec_lab_need_up || return
  [ -n "$addr" ] || { _ipsec_lab_err "ipsec_lab_add_protected: no address"; return 2; }
  ip -n "$IPSEC_LAB_PREFIX-$s" addr add "$addr" dev lo
}

# ipsec_lab_ping FROM_SIDE DEST [SRC]
#   ping -c ${IPSEC_LAB_PING_COUNT:-3} -i 0.2 -W 2 [-I SRC] DEST inside FROM_SIDE's
#   namespace, e.g. ipsec_lab_ping a 10.2.0.1 10.1.0.1. Returns ping's status (0 if
#   any reply came back).
ipsec_lab_ping() {
  local s=${1:-} dest=${2:-} src=${3:-}
  _ipsec_lab_side_ok "$s" || return
  _ipsec_lab_need_up || return
  [ -n "$dest" ] || { _ipsec_lab_err "ipsec_lab_ping: no destination"; return 2; }
  ip netns exec "$IPSEC_LAB_PREFIX-$s" ping -n -c "${IPSEC_LAB_PING_COUNT:-3}" -i 0.2 -W 2 \
    ${src:+-I "$src"} "$dest"
}

# ipsec_lab_down [PREFIX]
#   Stops both charons (TERM, then KILL), kills anything else left in PREFIX-a and
#   PREFIX-b, deletes the namespaces and $IPSEC_LAB_DIR (only if it is a
#   gatepeer-ipsec-PREFIX.* dir). PREFIX defaults to $IPSEC_LAB_PREFIX, then gpi.
#   Always returns 0; safe to call twice or after a partial ipsec_lab_up.
ipsec_lab_down() {
  local p=${1:-${IPSEC_LAB_PREFIX:-gpi}} s pid
  if [ -n "${IPSEC_LAB_DIR:-}" ] && [ "${IPSEC_LAB_PREFIX:-}" = "$p" ]; then
    for s in a b; do
      pid=$(cat "$IPSEC_LAB_DIR/$s/charon.pid" 2>/dev/null || true)
      if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
  fi
  _ipsec_lab_del_ns "$p-a" || true
  _ipsec_lab_del_ns "$p-b" || true
  if [ -n "${IPSEC_LAB_DIR:-}" ] && [ "${IPSEC_LAB_PREFIX:-}" = "$p" ]; then
    case "$IPSEC_LAB_DIR" in
      */gatepeer-ipsec-"$p".*) rm -rf -- "$IPSEC_LAB_DIR" 2>/dev/null || true ;;
    esac
    unset IPSEC_LAB_DIR IPSEC_LAB_PREFIX
  fi
  return 0
}

# ---------------------------------------------------------------------------
# libreswan: check an ipsec.conf with libreswan's own parsers, without installing
# libreswan (it conflicts with strongSwan: both provide ike-server).

# _apt_download DIR PACKAGE...: `apt-get download` into DIR; on failure (a stale
# index, a mirror hiccup) refreshes the index and tries twice more, 2 s apart.
_apt_download() {
  local dir=$1 out try
  shift
  for try in 1 2 3; do
    out=$(cd "$dir" && apt-get download "$@" 2>&1) && return 0
    [ "$try" -lt 3 ] || break
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    sleep 2
  done
  echo "$out" >&2
  return 1
}

# _libreswan_fetch: `apt-get download libreswan` + `dpkg -x` into
# $LIBRESWAN_DIR/root once (serialised with flock); the same for addconn's and
# algparse's shared libraries into $LIBRESWAN_DIR/libs if the host lacks any.
_libreswan_fetch() {
  local dir=${LIBRESWAN_DIR:-/var/tmp/gatepeer-libreswan} tmp b missing=0
  local exe=$dir/root/usr/libexec/ipsec
  [ -x "$exe/addconn" ] && [ -x "$exe/algparse" ] && [ -e "$dir/libs.done" ] && return 0
  mkdir -p "$dir"
  (
    flock 9
    if [ ! -x "$exe/addconn" ] || [ ! -x "$exe/algparse" ]; then
      tmp=$(mktemp -d "$dir/dl.XXXXXX")
      # apt-get download warns when its _apt sandbox user cannot write the folder.
      chmod 755 "$tmp"
      _apt_download "$tmp" libreswan || { rm -rf "$tmp"; exit 1; }
      rm -rf "$dir/root"
      if ! { dpkg -x "$tmp"/libreswan_*.deb "$tmp/root" && mv "$tmp/root" "$dir/root" &&
        dpkg-deb -f "$tmp"/libreswan_*.deb Version >"$dir/VERSION"; }; then
        rm -rf "$tmp"
        exit 1
      fi
      rm -rf "$tmp"
    fi
    if [ ! -e "$dir/libs.done" ]; then
      for b in addconn algparse; do
        ldd "$exe/$b" 2>/dev/null | grep -q "not found" && missing=1
      done
      if [ "$missing" -eq 1 ] || [ -n "${LIBRESWAN_FORCE_LIBS:-}" ]; then
        tmp=$(mktemp -d "$dir/dl.XXXXXX")
        chmod 755 "$tmp"
        # addconn: libunbound8 libevent-2.1-7 libhogweed6 libnettle8 libgmp10;
        # algparse: libnss3 libnspr4 (+ libsqlite3-0 for libnss3).
        _apt_download "$tmp" libunbound8 libevent-2.1-7 libhogweed6 \
          libnettle8 libgmp10 libnss3 libnspr4 libsqlite3-0 || { rm -rf "$tmp"; exit 1; }
        rm -rf "$dir/libs"
        for b in "$tmp"/*.deb; do dpkg -x "$b" "$dir/libs"; done
        rm -rf "$tmp"
      fi
      touch "$dir/libs.done"
    fi
  ) 9>"$dir/.lock"
}

# libreswan_check_config FILE
#   Checks an ipsec.conf with libreswan's parsers from the unpacked Debian package
#   (cached in ${LIBRESWAN_DIR:-/var/tmp/gatepeer-libreswan}; downloaded on first
#   use, needs a Debian mirror):
#     1. $LIBRESWAN_DIR/root/usr/libexec/ipsec/addconn --checkconfig --config FILE
#        (syntax, keywords, enum values such as auto=/dpdaction=/ikev2=; it exits 0
#        on some load errors, e.g. "connection authby= value is unknown" or a bad
#        subnet, so any such message counts as failure);
#     2. .../algparse -v2|-v1 -pfs ike=... / esp=... for every ike=, esp=,
#        phase2alg= value in FILE (addconn does not parse algorithms).
#   Does not check durations, addresses or that left/right exist, nor
#   ipsec.secrets (only pluto parses those). Messages on stderr; returns 0 if valid,
#   1 if not, 2 on usage/setup errors.
libreswan_check_config() {
  local file=${1:-} dir=${LIBRESWAN_DIR:-/var/tmp/gatepeer-libreswan} exe out rc=0 ver
  local libpath="" d key val proto bad=0 ikev=-v2 line
  if [ -z "$file" ] || [ ! -r "$file" ]; then
    _ipsec_lab_err "libreswan_check_config: cannot read '${file}'"
    return 2
  fi
  _libreswan_fetch || { _ipsec_lab_err "libreswan_check_config: cannot fetch libreswan"; return 2; }
  exe=$dir/root/usr/libexec/ipsec
  for d in "$dir"/libs/usr/lib/*-linux-gnu* "$dir"/libs/lib/*-linux-gnu*; do
    [ -d "$d" ] && libpath=${libpath:+$libpath:}$d
  done
  ver=$(cat "$dir/VERSION" 2>/dev/null || echo "?")

  out=$(LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    "$exe/addconn" --checkconfig --config "$file" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] || grep -qiE "error|while loading|cannot|invalid|unknown|bad |obsolete|not supported" <<<"$out"; then
    printf 'libreswan %s addconn (exit %s): %s\n' "$ver" "$rc" "$out" >&2
    bad=1
  elif [ -n "$out" ]; then
    printf 'libreswan %s addconn: %s\n' "$ver" "$out" >&2
  fi

  grep -qE '^[[:space:]]+ikev2[[:space:]]*=[[:space:]]*(no|never|permit)' "$file" && ikev=-v1
  while IFS= read -r line; do
    key=${line%%=*}; key=${key//[[:space:]]/}
    val=${line#*=}; val=${val%%#*}
    val=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' <<<"$val")
    case "$key" in ike) proto=ike ;; esp | phase2alg) proto=esp ;; ah) proto=ah ;; *) continue ;; esac
    [ -n "$val" ] || continue
    rc=0
    out=$(LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      "$exe/algparse" "$ikev" -pfs "$proto=$val" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] || grep -q "ERROR" <<<"$out"; then
      printf 'libreswan %s algparse %s=%s (exit %s):\n%s\n' "$ver" "$key" "$val" "$rc" "$out" >&2
      bad=1
    fi
  done < <(grep -E '^[[:space:]]+(ike|esp|phase2alg|ah)[[:space:]]*=' "$file" || true)
  return "$bad"
}
