# Network namespaces by exact name. Anything that creates a namespace records its name
# first (ns_register), so a run that dies halfway can delete exactly what it made:
# other people's namespaces may exist at the same time, under any name, and are never
# matched by a pattern. Source it; it sets no traps.

# ns_register NAME: appends NAME to $GATEPEER_NS_REGISTRY (set by scripts/test) when set.
# Scripts record no PID: their namespaces outlive the script that made them (scripts/lab
# up); the tests record "NAME PID" (Tests/GatePeerKernelTests/Namespace.swift).
ns_register() {
  if [ -n "${GATEPEER_NS_REGISTRY:-}" ]; then echo "$1" >>"$GATEPEER_NS_REGISTRY"; fi
  return 0
}

# ns_exists NAME: true when a namespace of exactly that name exists.
ns_exists() { ip netns list 2>/dev/null | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }'; }

# ns_delete NAME: kills what runs in it (servers a crashed test left) and deletes it.
ns_delete() {
  ns_exists "$1" || return 0
  ip netns pids "$1" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$1" 2>/dev/null || true
}

# ns_delete_registered FILE: deletes every namespace named in FILE (one name a line).
ns_delete_registered() {
  local name
  [ -f "$1" ] || return 0
  while IFS=' ' read -r name _; do
    [ -n "$name" ] && ns_delete "$name"
  done < <(sort -u "$1")
}
