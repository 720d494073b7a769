/// Per-link status read from the kernel, for people (`text`) and scripts (`json`).
public struct LinkStatus: Equatable, Sendable {
    public var name: String
    public var present: Bool
    public var owned: Bool
    public var operState: String
    public var vxlanId: UInt32?
    public var port: UInt16?
    public var sourcePortRange: PortRange?
    public var underlayDevice: String?
    public var outerIpAddress: IPAddress?
    public var mtu: Int?
    public var mac: MACAddress?
    public var learning: Bool?
    public var innerAddresses: [IPPrefix]
    public var peers: [IPAddress]
    public var stats: LinkStats?
    public var routes: [LANRoute]
    /// FDB entries on the device that are not as gatepeer makes them (drifted, or toward
    /// a host that is not a configured peer), as `bridge fdb` shows them with the reason;
    /// the next apply deletes them.
    public var strayFDB: [String] = []
}

public struct StatusReport: Sendable {
    public var links: [LinkStatus]
    public var sysctls: [(SysctlKey, String)]
    public var pendingChanges: [String]
    public var blockers: [String]
    /// Look-alikes that are not gatepeer's, from the plan (left alone).
    public var warnings: [String] = []
    public var filter: FilterStatus?

    /// Links from the config (present or not) plus owned links the config no longer names.
    public init(config: GatePeerConfig, observed: ObservedState, plan: Plan) {
        var names = config.links.map(\.name)
        for l in observed.links where l.isOwned && !names.contains(l.name) { names.append(l.name) }
        links = names.map { StatusReport.linkStatus($0, observed) }
        for (i, l) in links.enumerated() {
            links[i].strayFDB = plan.changes.compactMap { c in
                guard case .deleteFDB(let link, _, _) = c, link == l.name else { return nil }
                return String(c.line.dropFirst("- fdb \(link) ".count))
            }
        }
        sysctls = observed.sysctls.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        pendingChanges = plan.changes.map(\.line)
        blockers = plan.blockers
        warnings = plan.warnings
    }

    static func linkStatus(_ name: String, _ o: ObservedState) -> LinkStatus {
        guard let l = o.link(named: name) else {
            return LinkStatus(name: name, present: false, owned: false, operState: "absent", innerAddresses: [], peers: [], routes: [])
        }
        let v = l.vxlan
        let routes = o.routes.filter { o.isOwned($0) && $0.outputIndex == l.index }
            .compactMap { r in r.gateway.map { LANRoute(destination: r.destination, via: $0) } }
            .sorted { $0.destination < $1.destination }
        return LinkStatus(
            name: name, present: true, owned: l.isOwned, operState: l.operState, vxlanId: v?.id, port: v?.port,
            sourcePortRange: v?.portRange, underlayDevice: v?.underlayIndex.flatMap { o.link(index: $0)?.name },
            outerIpAddress: v?.local, mtu: l.mtu, mac: l.mac, learning: v?.learning,
            innerAddresses: o.addresses.filter { $0.linkIndex == l.index && !$0.prefix.address.isIPv6LinkLocal }.map(\.prefix),
            peers: o.fdb.filter { $0.linkIndex == l.index && $0.isGatePeerEntry }.compactMap(\.destination),
            stats: l.stats, routes: routes)
    }

    public var text: String {
        var out: [String] = []
        for l in links {
            guard l.present else {
                out.append("link \(l.name): absent")
                continue
            }
            out.append("link \(l.name): \(l.operState)\(l.owned ? "" : " (NOT gatepeer's: left alone)")")
            var vx = "  vxlan id \(l.vxlanId.map(String.init) ?? "-") port \(l.port.map(String.init) ?? "-")"
            vx += " srcport \(l.sourcePortRange?.description ?? "-") dev \(l.underlayDevice ?? "-")"
            vx += " local \(l.outerIpAddress?.description ?? "-") mtu \(l.mtu.map(String.init) ?? "-")"
            vx += " learning \(l.learning.map { $0 ? "on" : "off" } ?? "-")"
            out.append(vx)
            out.append("  mac \(l.mac?.description ?? "-")  inner \(l.innerAddresses.map(\.description).joined(separator: ", ").orDash)")
            out.append("  peers \(l.peers.map(\.description).joined(separator: ", ").orDash)")
            for f in l.strayFDB { out.append("  fdb to remove: \(f)") }
            if let s = l.stats {
                out.append("  rx \(s.rxPackets) packets \(s.rxBytes) bytes  tx \(s.txPackets) packets \(s.txBytes) bytes")
            }
            out.append("  routes \(l.routes.map { "\($0.destination) via \($0.via)" }.joined(separator: ", ").orDash)")
        }
        for (k, v) in sysctls where k == .ipv4Forward || k == .ipv6Forward { out.append("sysctl \(k) = \(v)") }
        if let filter { out.append(filter.text) }
        if pendingChanges.isEmpty && blockers.isEmpty {
            out.append("in sync with the config")
        } else {
            if !pendingChanges.isEmpty { out.append("\(pendingChanges.count) change(s) pending (gatepeer plan)") }
            for b in blockers { out.append("blocked: \(b)") }
        }
        for w in warnings { out.append("warning: \(w)") }
        return out.joined(separator: "\n")
    }

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
                "peers": .array(l.peers.map { .string($0.description) }),
                "strayFdb": .array(l.strayFDB.map { .string($0) }),
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
                        "inSync": .bool(pendingChanges.isEmpty && blockers.isEmpty)])
    }
}

extension String {
    var orDash: String { isEmpty ? "-" : self }
}

/// Filter counters: per verdict, and per rule (element counters of the destination maps
/// for prefix rules, named counters for rules reached through bundle chains).
public struct FilterStatus: Sendable {
    public struct RuleCount: Sendable {
        public let path: String
        public let summary: String
        public let count: PacketCount
    }

    public var present: Bool
    public var inSync: Bool
    /// The config has a filter section (outbound policy, NAT, inbound guard).
    public var policy: Bool
    /// Why the table's content is not what gatepeer loaded (Plan.Change.repairFilter).
    public var edited: String?
    /// Per link (config order): VXLAN packets the guard dropped because their source is
    /// none of the link's peers (counter vx<N>_drop, read from the kernel); nil when the
    /// kernel has no such counter (the table is absent, or was edited): then there is no
    /// guard, which a count of 0 would hide.
    public var vxlanGuard: [(link: String, dropped: PacketCount?)]
    public var verdicts: [(String, PacketCount)]
    public var rules: [RuleCount]

    /// `ruleset`: what the planner rendered (Plan.ruleset). `elements`: per group index,
    /// (low address, count) of every destination-map element. `pending`: the plan's
    /// changes; any nftables change (content edited outside gatepeer, a missing grant
    /// element, a leftover staging table) means the filter is not in sync.
    public init(config: GatePeerConfig, observed: ObservedState, ruleset: NftRuleset?, elements: [Int: [(IPAddress, PacketCount)]],
                pending: [Plan.Change] = []) {
        present = observed.filter != nil
        policy = config.filter != nil
        inSync = ruleset?.fingerprint == observed.filter?.fingerprint && !pending.contains { $0.object == "nftables" }
        edited = pending.lazy.compactMap { c -> String? in if case .repairFilter(_, let r) = c { return r } else { return nil } }.first
        let counters = observed.filter?.counters ?? [:]
        verdicts = NftNames.verdicts.map(\.counter).map { ($0, counters[$0] ?? PacketCount(packets: 0, bytes: 0)) }
        vxlanGuard = config.links.enumerated().map { ($1.name, counters[NftNames.guardCounter(link: $0)]) }
        rules = []
        guard let f = config.filter, let ruleset else { return }
        for (gi, group) in f.outbound.enumerated() {
            var perRule: [Int?: PacketCount] = [:]
            let compiled = ruleset.compiled[gi]
            for (low, count) in elements[gi] ?? [] {
                let table = low.family == .v4 ? compiled.v4 : compiled.v6
                // Sorted and disjoint: the last interval starting at or before `low` (a shard
                // holds clipped pieces of an interval; each piece counts for the whole).
                var lo = 0, hi = table.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if table[mid].low <= low { lo = mid + 1 } else { hi = mid }
                }
                guard lo > 0, low <= table[lo - 1].high else { continue }
                let iv = table[lo - 1]
                if case .outcome(let o) = iv.target { perRule[o.rule, default: PacketCount(packets: 0, bytes: 0)] = perRule[o.rule, default: PacketCount(packets: 0, bytes: 0)] + count }
            }
            for k in group.rules.indices {
                let named = counters[NftNames.ruleCounter(group: gi, rule: k)] ?? PacketCount(packets: 0, bytes: 0)
                let total = named + (perRule[k] ?? PacketCount(packets: 0, bytes: 0))
                rules.append(RuleCount(path: "filter.outbound[\(gi)].rules[\(k)]", summary: group.rules[k].summary, count: total))
            }
            let d = (perRule[nil] ?? PacketCount(packets: 0, bytes: 0)) + (counters[NftNames.defaultCounter(group: gi)] ?? PacketCount(packets: 0, bytes: 0))
            rules.append(RuleCount(path: "filter.outbound[\(gi)].default", summary: "\(group.defaultAction.rawValue) (group \"\(group.name)\")", count: d))
        }
    }

    public var text: String {
        let state = !present ? "absent" : edited.map { "edited outside gatepeer (\($0))" } ?? (inSync ? "in sync" : "differs from the config")
        var out = ["filter: table inet gatepeer \(state)"]
        // Without a filter section the table holds only the VXLAN guard: no verdicts.
        // Without the table there are no counters: zeros would read as "nothing matched".
        if policy && present { out.append("  " + verdicts.map { "\($0.0) \($0.1.packets) packets" }.joined(separator: ", ")) }
        for (i, g) in vxlanGuard.enumerated() {
            guard let d = g.dropped else {
                let why = present ? "no counter \(NftNames.guardCounter(link: i)) in table inet gatepeer" : "table inet gatepeer absent"
                out.append("  vxlan guard \(g.link): missing (\(why))")
                continue
            }
            out.append("  vxlan guard \(g.link): \(d.packets) packets from non-peers dropped")
        }
        if present { for r in rules { out.append("  \(r.count.packets) packets \(r.count.bytes) bytes  \(r.path): \(r.summary)") } }
        return out.joined(separator: "\n")
    }

    public var json: JSONOut {
        var v: [String: JSONOut] = [:]
        for (name, c) in verdicts { v[name] = .object(["packets": .uint(c.packets), "bytes": .uint(c.bytes)]) }
        return .object([
            "present": .bool(present), "inSync": .bool(inSync), "verdicts": .object(v), "edited": edited.map { .string($0) } ?? .null,
            "vxlanGuard": .array(vxlanGuard.map { .object(["link": .string($0.link), "present": .bool($0.dropped != nil),
                                                          "droppedPackets": $0.dropped.map { .uint($0.packets) } ?? .null,
                                                          "droppedBytes": $0.dropped.map { .uint($0.bytes) } ?? .null]) }),
            "rules": .array(rules.map { .object(["path": .string($0.path), "rule": .string($0.summary),
                                                 "packets": .uint($0.count.packets), "bytes": .uint($0.count.bytes)]) }),
        ])
    }
}
