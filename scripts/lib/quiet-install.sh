# Installs Debian packages without letting their maintainer scripts start a service on
# the host. Source it; it defines one function and sets no traps.

# install_without_services LABEL PKG...
#   apt-get update, then apt-get install --no-install-recommends PKG..., with a temporary
#   /usr/sbin/policy-rc.d that answers 101 ("action forbidden") in place, so a postinst's
#   `invoke-rc.d NAME start` starts nothing: neither the systemd unit nor, on a host
#   without systemd as PID 1, the /etc/init.d script. A policy-rc.d the host already has
#   is left as it is (and then decides). LABEL prefixes the progress line. Returns
#   apt-get's status. Undoing what a postinst enabled for boot is the caller's part.
install_without_services() {
  local label=$1 policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
  shift
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, gatepeer %s\nexit 101\n' "$label" >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  echo "$label: installing $* (no service started: policy-rc.d answers 101)" >&2
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "$@" >/dev/null
  } || rc=$?
  if [ "$made_policy" -eq 1 ]; then rm -f "$policy"; fi
  return "$rc"
}
