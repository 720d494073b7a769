# keepalived and conntrackd from Debian, for the tests that check what `gatepeer ha
# render` writes with the engines' own parsers (`keepalived -t -f FILE`, conntrackd
# started on the file in a namespace of the test's own). Source it; it sets no traps.
#
# Installing must not leave a host service running. Both packages ship an init script
# and a systemd unit, and their postinst runs `invoke-rc.d keepalived start` (and
# conntrackd's): under systemd that starts the unit, and without systemd (this kind of
# VM: no systemd as PID 1) invoke-rc.d runs /etc/init.d/keepalived start, a keepalived
# in the host's network namespace. So a temporary /usr/sbin/policy-rc.d that answers
# 101 ("action forbidden") is in place during the install (only when the host has none
# of its own) and removed after it; under systemd the units the postinst enabled for a
# fresh install are disabled again. Afterwards nothing of either runs: checked with
# `systemctl is-active` where systemd runs, with pidof otherwise.

# shellcheck source=quiet-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/quiet-install.sh"

GATEPEER_HA_PACKAGES=(keepalived conntrackd)

ha_packages() {
  local missing=() p
  for p in "${GATEPEER_HA_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || _ha_install "${missing[@]}" || return 1
  _ha_no_host_service
}

_ha_install() {
  local rc=0 p
  install_without_services ha-packages "$@" || rc=$?
  if [ -d /run/systemd/system ]; then
    for p in "$@"; do systemctl disable --quiet "$p.service" 2>/dev/null || true; done
  fi
  return "$rc"
}

# Fails naming the service when keepalived or conntrackd runs on the host (its own
# namespace's processes: the tests' daemons run in namespaces and are not the host's).
_ha_no_host_service() {
  local s pid host_ns
  if [ -d /run/systemd/system ]; then
    for s in keepalived conntrackd; do
      if systemctl is-active --quiet "$s"; then
        echo "ha-packages: $s.service is active on the host; stop it (systemctl stop $s) and run again" >&2
        return 1
      fi
    done
  fi
  host_ns=$(readlink /proc/1/ns/net 2>/dev/null) || return 0
  for s in keepalived conntrackd; do
    for pid in $(pidof "$s" 2>/dev/null); do
      if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$host_ns" ]; then
        echo "ha-packages: $s (pid $pid) runs in the host's network namespace; it is not the tests'" >&2
        return 1
      fi
    done
  done
  return 0
}
