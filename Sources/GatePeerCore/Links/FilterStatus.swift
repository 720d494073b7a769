/// Filter counters: per verdict, and per rule (element counters of the destination maps
/// for prefix rules, named counters for rules reached through bundle chains).
public struct FilterStatus: Sendable {
    /// The packets one rule (or a group's default) decided.
    public struct RuleCount: Sendable {
        /// The rule's JSON path, such as `filter.outbound[0].rules[3]` or `...default`.
        public let path: String
        /// The rule as `OutboundRule.summary` writes it.
        public let summary: String
        /// Packets and bytes counted for it in the kernel.
        public let count: PacketCount
        /// Index of its group in filter.outbound, and of the rule in the group (nil: the
        /// group's default), for metric labels.
        public var group = 0, rule: Int? = nil
    }

    /// The kernel has table inet gatepeer.
    public var present: Bool
    /// The table is what the config renders (no pending filter change).
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
    /// Packets per verdict counter: out_allow, out_deny, in_allow, in_drop, grant_allow.
    public var verdicts: [(String, PacketCount)]
    /// Packets per rule and per group default, in config order.
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
                rules.append(RuleCount(path: "filter.outbound[\(gi)].rules[\(k)]", summary: group.rules[k].summary, count: total, group: gi, rule: k))
            }
            let d = (perRule[nil] ?? PacketCount(packets: 0, bytes: 0)) + (counters[NftNames.defaultCounter(group: gi)] ?? PacketCount(packets: 0, bytes: 0))
            rules.append(RuleCount(path: "filter.outbound[\(gi)].default", summary: "\(group.defaultAction.rawValue) (group \"\(group.name)\")", count: d, group: gi))
        }
    }

    /// The filter block of `status` for a person.
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

    /// The filter object of `status --json`.
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
