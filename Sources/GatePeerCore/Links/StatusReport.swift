/// What `gatepeer status` shows: each link as the kernel holds it, the sysctls, the
/// changes an apply would make and what blocks it, and the filter's counters; read from
/// ObservedState and the Plan, for people (`text`) and scripts (`json`).
public struct StatusReport: Sendable {
    /// The config's links in order, then owned links the config no longer names.
    public var links: [LinkStatus]
    /// The sysctls the planner watches with their values, sorted by name.
    public var sysctls: [(SysctlKey, String)]
    /// The plan's changes, one line each as `plan` prints them; empty when in sync.
    public var pendingChanges: [String]
    /// Why an apply would refuse (Plan.blockers).
    public var blockers: [String]
    /// Look-alikes that are not gatepeer's, from the plan (left alone).
    public var warnings: [String] = []
    /// The filter's state and counters, filled in by the caller that read them; nil when not read.
    public var filter: FilterStatus?
    /// The live daemon's runtime report (`attach`); nil when no `gatepeer run` manages the
    /// namespace (or its report is stale): peers are then "unknown".
    public private(set) var daemon: RuntimeReport?
    /// The pid of the `gatepeer run` that holds the namespace's daemon lock when its report
    /// cannot be believed (`attachUnbelievable`), with why: status is then degraded and
    /// names it.
    public private(set) var runtimeHolder: String?
    public private(set) var runtimeProblem: String?

    /// Links from the config (present or not) plus owned links the config no longer names.
    public init(config: GatePeerConfig, observed: ObservedState, plan: Plan) {
        self.init(config: config, observed: observed, pendingChanges: plan.changes.map(\.line), blockers: plan.blockers)
        for (i, l) in links.enumerated() {
            links[i].strayFDB = plan.changes.compactMap { c in
                guard case .deleteFDB(let link, _, _) = c, link == l.name else { return nil }
                return String(c.line.dropFirst("- fdb \(link) ".count))
            }
        }
        warnings = plan.warnings
    }

    /// The report without a plan of its own: `problems` are what the daemon's last
    /// reconcile left standing (DaemonContext.reconcileProblems, one line each, blockers
    /// as "blocked: ..."), so the daemon's textfile need not plan again (a 20,000-rule
    /// filter renders in about a second). Lines other than blockers count as pending.
    public init(config: GatePeerConfig, observed: ObservedState, reconcileProblems problems: [String]) {
        let prefix = "blocked: "
        self.init(config: config, observed: observed, pendingChanges: problems.filter { !$0.hasPrefix(prefix) },
                  blockers: problems.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
    }

    private init(config: GatePeerConfig, observed: ObservedState, pendingChanges: [String], blockers: [String]) {
        var names = config.links.map(\.name)
        for l in observed.links where l.isOwned && !names.contains(l.name) { names.append(l.name) }
        links = names.map { StatusReport.linkStatus($0, observed) }
        let standby = HAStandby.links(config, observed)
        for i in links.indices { links[i].haStandby = standby.contains(links[i].name) }
        sysctls = observed.sysctls.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.pendingChanges = pendingChanges
        self.blockers = blockers
    }

    /// The kernel holds the config: nothing pending, nothing blocked. The one decision
    /// behind `status`'s "in sync", `inSync` of its JSON and the gatepeer_in_sync metric.
    public var inSync: Bool { pendingChanges.isEmpty && blockers.isEmpty }

    static func linkStatus(_ name: String, _ o: ObservedState) -> LinkStatus {
        guard let l = o.link(named: name) else {
            return LinkStatus(name: name, present: false, owned: false, operState: "absent", innerAddresses: [], peers: [], routes: [])
        }
        let v = l.vxlan
        let routes = o.routes.filter { o.isOwned($0) && $0.outputIndex == l.index }
            .compactMap { r in r.gateway.map { LANRoute(destination: r.destination, via: $0) } }
            .sorted { $0.destination < $1.destination }
        return LinkStatus(
            name: name, present: true, owned: l.isOwned, operState: l.operState, isUp: l.isUp, vxlanId: v?.id, port: v?.port,
            sourcePortRange: v?.portRange, underlayDevice: v?.underlayIndex.flatMap { o.link(index: $0)?.name },
            outerIpAddress: v?.local, mtu: l.mtu, mac: l.mac, learning: v?.learning,
            innerAddresses: o.addresses.filter { $0.linkIndex == l.index && !$0.prefix.address.isIPv6LinkLocal }.map(\.prefix),
            peers: o.fdb.filter { $0.linkIndex == l.index && $0.isGatePeerEntry }.compactMap(\.destination).map { PeerStatus(address: $0) },
            stats: l.stats, routes: routes)
    }

    /// Takes the live daemon's report (nil: none, or a stale one): each peer's liveness
    /// by (link, outer address); a peer the daemon does not probe stays unknown.
    public mutating func attach(_ runtime: RuntimeReport?) {
        daemon = runtime
        runtimeHolder = nil
        runtimeProblem = nil
        for i in links.indices {
            links[i].peers = links[i].peers.map { p in
                PeerStatus(address: p.address, liveness: runtime?.peers.first { $0.link == links[i].name && $0.outerIpAddress == p.address })
            }
        }
    }

    /// A daemon (`pid`) holds the namespace but its report cannot be believed (`problem`:
    /// stale, unreadable, damaged, or another process's): peers are unknown and the
    /// status is degraded, naming the pid and the problem.
    public mutating func attachUnbelievable(pid: String, problem: String) {
        attach(nil)
        runtimeHolder = pid
        runtimeProblem = "daemon pid \(pid) runs but its runtime report \(problem)"
    }

    /// Why the namespace is degraded (`status` exits 3), empty when it is not: changes not
    /// applied yet (drift the daemon has not repaired, or no daemon), blockers, and VPG
    /// gate peers the live daemon judged down. Unknown peers (no live daemon, nothing to
    /// probe, too few probes yet) do not degrade: without a daemon nothing can be known
    /// of them, and the kernel's part is still checked. Neither do the peers of a link
    /// this node is the HA standby for (the kernel's word, `haStandby`: the daemon's
    /// report may lag an address change by a reconcile): the standby is healthy.
    public var degradedReasons: [String] {
        var out: [String] = []
        if !pendingChanges.isEmpty { out.append("\(pendingChanges.count) change(s) pending") }
        out += blockers.map { "blocked: \($0)" }
        return out + daemonReasons
    }

    /// The daemon's part of `degradedReasons`: a report that cannot be believed while a
    /// daemon holds the namespace, links whose peers cannot be probed, and peers judged down.
    var daemonReasons: [String] {
        var out: [String] = []
        if let runtimeProblem { out.append(runtimeProblem) }
        let standby = Set(links.filter(\.haStandby).map(\.name))
        for (link, why) in (daemon?.livenessProblems ?? [:]).sorted(by: { $0.key < $1.key }) where !standby.contains(link) {
            out.append("peers of link \(link) not probed: \(why)")
        }
        for p in daemon?.peers ?? [] where p.state == .down && !standby.contains(p.link) {
            out.append("peer \(p.outerIpAddress) of link \(p.link) down")
        }
        return out
    }

    /// The report for a person, one block per link.
    public var text: String {
        var out: [String] = []
        for l in links {
            guard l.present else {
                out.append("link \(l.name): absent")
                continue
            }
            out.append("link \(l.name): \(l.stateText)\(l.owned ? "" : " (NOT gatepeer's: left alone)")")
            var vx = "  vxlan id \(l.vxlanId.map(String.init) ?? "-") port \(l.port.map(String.init) ?? "-")"
            vx += " srcport \(l.sourcePortRange?.description ?? "-") dev \(l.underlayDevice ?? "-")"
            vx += " local \(l.outerIpAddress?.description ?? "-") mtu \(l.mtu.map(String.init) ?? "-")"
            vx += " learning \(l.learning.map { $0 ? "on" : "off" } ?? "-")"
            out.append(vx)
            out.append("  mac \(l.mac?.description ?? "-")  inner \(l.innerAddresses.map(\.description).joined(separator: ", ").orDash)")
            out.append("  peers \(l.peers.map(\.text).joined(separator: ", ").orDash)")
            if l.haStandby { out.append("  " + l.standbyLine) }
            for f in l.strayFDB { out.append("  fdb to remove: \(f)") }
            if let s = l.stats {
                out.append("  rx \(s.rxPackets) packets \(s.rxBytes) bytes  tx \(s.txPackets) packets \(s.txBytes) bytes")
            }
            out.append("  routes \(l.routes.map { "\($0.destination) via \($0.via)" }.joined(separator: ", ").orDash)")
        }
        for (k, v) in sysctls where k == .ipv4Forward || k == .ipv6Forward { out.append("sysctl \(k) = \(v)") }
        if let filter { out.append(filter.text) }
        if inSync {
            out.append("in sync with the config")
        } else {
            if !pendingChanges.isEmpty { out.append("\(pendingChanges.count) change(s) pending (gatepeer plan)") }
            for b in blockers { out.append("blocked: \(b)") }
        }
        for r in daemonReasons { out.append("degraded: \(r)") }
        if let daemon {
            out.append("daemon: gatepeer run pid \(daemon.pid)")
        } else if let runtimeHolder {
            out.append("daemon: gatepeer run pid \(runtimeHolder) (peer liveness unknown)")
        } else {
            out.append("daemon: none running in this network namespace (peer liveness unknown)")
        }
        for w in warnings { out.append("warning: \(w)") }
        return out.joined(separator: "\n")
    }

    /// The report for scripts (`status --json`): links, sysctls, filter, pendingChanges,
    /// blockers, warnings, inSync, degraded, degradedReasons, daemon (docs/status.md
    /// documents the shape as stable).
    public var json: JSONOut {
        func opt<T: CustomStringConvertible>(_ v: T?) -> JSONOut { v.map { .string($0.description) } ?? .null }
        let ls: [JSONOut] = links.map { l in
            var d: [String: JSONOut] = [
                "name": .string(l.name), "present": .bool(l.present), "owned": .bool(l.owned),
                "operState": .string(l.operState),
                "vxlanId": l.vxlanId.map { .uint(UInt64($0)) } ?? .null,
                "port": l.port.map { .uint(UInt64($0)) } ?? .null,
                "sourcePortRange": l.sourcePortRange.map { .object(["low": .uint(UInt64($0.low)), "high": .uint(UInt64($0.high))]) } ?? .null,
                "underlayDevice": opt(l.underlayDevice), "outerIpAddress": opt(l.outerIpAddress),
                "mtu": l.mtu.map { .int(Int64($0)) } ?? .null, "mac": opt(l.mac),
                "learning": l.learning.map { .bool($0) } ?? .null,
                "innerIpAddresses": .array(l.innerAddresses.map { .string($0.description) }),
                "peers": .array(l.peers.map(\.json)),
                "strayFdb": .array(l.strayFDB.map { .string($0) }),
                "haStandby": .bool(l.haStandby),
                "routes": .array(l.routes.map { .object(["destination": .string($0.destination.description), "via": .string($0.via.description)]) }),
            ]
            if let s = l.stats {
                d["stats"] = .object(["rxPackets": .uint(s.rxPackets), "rxBytes": .uint(s.rxBytes),
                                      "txPackets": .uint(s.txPackets), "txBytes": .uint(s.txBytes)])
            } else { d["stats"] = .null }
            return .object(d)
        }
        var sys: [String: JSONOut] = [:]
        for (k, v) in sysctls { sys[k.description] = .string(v) }
        return .object(["links": .array(ls), "sysctls": .object(sys), "filter": filter?.json ?? .null,
                        "pendingChanges": .array(pendingChanges.map { .string($0) }),
                        "blockers": .array(blockers.map { .string($0) }),
                        "warnings": .array(warnings.map { .string($0) }),
                        "inSync": .bool(inSync),
                        "degraded": .bool(!degradedReasons.isEmpty),
                        "degradedReasons": .array(degradedReasons.map { .string($0) }),
                        "daemon": daemonJSON])
    }

    /// `daemon` of `status --json`: the live daemon's pid, start time and last converge;
    /// for a daemon whose report cannot be believed, its pid and `problem`; null without one.
    var daemonJSON: JSONOut {
        if let d = daemon {
            return .object(["pid": .int(Int64(d.pid)), "startTime": .double(d.startTime),
                            "lastConverged": d.counters.lastConverged.map { .double($0) } ?? .null, "problem": .null])
        }
        guard let runtimeHolder else { return .null }
        return .object(["pid": Int64(runtimeHolder).map { .int($0) } ?? .null, "startTime": .null, "lastConverged": .null,
                        "problem": runtimeProblem.map { .string($0) } ?? .null])
    }
}

private extension String {
    var orDash: String { isEmpty ? "-" : self }
}
