# Shared by scripts/*: toolchain on PATH, Debian packages installed on demand.
# Source it; it defines functions and sets no traps.

export PATH="/opt/swift/usr/bin:/usr/sbin:/sbin:$PATH"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Packages the product, the lab, the tests and the benchmarks need.
GATEPEER_PACKAGES=(libnftables-dev nftables pkg-config iproute2 iputils-ping tcpdump procps strace socat dnsmasq-base bind9-dnsutils iperf3 iptables hyperfine jq systemd-container debootstrap libcap2-bin binutils)

# gatepeer keeps state (grants, the filter map cache) in $GATEPEER_STATE_DIR; scripts
# that run it on the lab give it a directory of their own, never the host's /var/lib.
lab_state_dir() {
  GATEPEER_STATE_DIR=$(mktemp -d /tmp/gatepeer-state.XXXXXX)
  export GATEPEER_STATE_DIR
}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "${0##*/}: must run as root (it builds network namespaces)" >&2
    exit 2
  fi
}

# Installs whichever of the given Debian packages are missing (apt-get update first).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# promtool (to check `gatepeer metrics`) from Debian's prometheus package, unpacked
# into a cache the tests own instead of installed: the package's postinst would start a
# Prometheus server on the host. Prints nothing; the binary is $GATEPEER_PROMTOOL.
GATEPEER_PROMTOOL_CACHE=/var/cache/gatepeer-test/promtool
GATEPEER_PROMTOOL=$GATEPEER_PROMTOOL_CACHE/usr/bin/promtool
ensure_promtool() {
  [ -x "$GATEPEER_PROMTOOL" ] && return 0
  say "unpacking promtool (Debian prometheus package, not installed) into $GATEPEER_PROMTOOL_CACHE"
  local tmp
  tmp=$(mktemp -d /tmp/gatepeer-promtool.XXXXXX) || return 1
  if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null) || { rm -rf "$tmp"; return 1; }
  fi
  mkdir -p "$GATEPEER_PROMTOOL_CACHE" && dpkg-deb -x "$tmp"/prometheus_*.deb "$GATEPEER_PROMTOOL_CACHE"
  local rc=$?
  rm -rf "$tmp"
  [ $rc -eq 0 ] && [ -x "$GATEPEER_PROMTOOL" ]
}

ensure_toolchain() {
  if ! command -v swift >/dev/null 2>&1; then
    echo "${0##*/}: no Swift toolchain found (expected /opt/swift/usr/bin/swift)" >&2
    exit 1
  fi
}

source "$ROOT/scripts/lib/netns.sh"
