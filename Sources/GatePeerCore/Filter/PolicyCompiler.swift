/// Builds CompiledPolicy from an outbound group (see CompiledPolicy for the semantics).
public enum PolicyCompiler {
    /// The group's prefix rules compiled; domain rules are only listed (`domainRules`).
    /// Fails with every pair of rules that tie with opposite actions, each problem at
    /// `rules[N]` relative to the group (the decoder prefixes the group's path).
    public static func compile(_ group: OutboundGroup) -> Result<CompiledPolicy, ConfigError> {
        var problems: [ConfigProblem] = []
        let defaultOutcome = CompiledPolicy.Outcome(action: group.defaultAction, rule: nil)

        // Rules grouped by exact destination prefix: one sort of plain integer keys
        // (family, network, length, rule), no hashing of 100,000 prefixes.
        struct Key: Comparable {
            let v6: Bool, high: UInt64, low: UInt64, length: Int, rule: Int
            static func < (a: Key, b: Key) -> Bool {
                if a.v6 != b.v6 { return !a.v6 }
                if a.high != b.high { return a.high < b.high }
                if a.low != b.low { return a.low < b.low }
                if a.length != b.length { return a.length < b.length }
                return a.rule < b.rule
            }
            func samePrefix(_ o: Key) -> Bool { v6 == o.v6 && high == o.high && low == o.low && length == o.length }
        }
        var keys: [Key] = []
        keys.reserveCapacity(group.rules.count)
        var domainRules: [Int] = []
        for i in group.rules.indices {
            switch group.rules[i].destination {
            case .prefix(let p):
                let a = p.network.address
                keys.append(Key(v6: p.family == .v6, high: a.high, low: a.low, length: p.length, rule: i))
            case .domain: domainRules.append(i)
            }
        }
        keys.sort()

        // One node per prefix, in (family, network, length) order: its any-protocol rule,
        // protocol rules, flattened port rules.
        struct Node {
            var prefix: IPPrefix
            var last: IPAddress
            var any: CompiledPolicy.Outcome?
            var level: CompiledPolicy.Level
        }
        var nodes: [Node] = []
        var k = 0
        while k < keys.count {
            var e = k + 1
            while e < keys.count && keys[e].samePrefix(keys[k]) { e += 1 }
            guard case .prefix(let raw) = group.rules[keys[k].rule].destination else { preconditionFailure() }
            let prefix = raw.network
            var node = Node(prefix: prefix, last: prefix.lastAddress, any: nil, level: .init(portRules: [], protocolRules: []))
            var portCandidates: [(UInt8, PortRange, CompiledPolicy.Outcome)] = []
            for key in keys[k..<e] {
                let i = key.rule
                let r = group.rules[i]
                let outcome = CompiledPolicy.Outcome(action: r.action, rule: i)
                switch (r.protocolMatch, r.ports.isEmpty) {
                case (.any, _):
                    if let other = node.any, other.action != r.action {
                        problems.append(tie(i, other.rule, "\(prefix) any protocol"))
                    } else if node.any == nil { node.any = outcome }
                case (.number(let n), true):
                    if let other = node.level.protocolRules.first(where: { $0.proto == n }) {
                        if other.outcome.action != r.action { problems.append(tie(i, other.outcome.rule, "\(prefix) \(r.protocolMatch)")) }
                    } else { node.level.protocolRules.append(.init(proto: n, outcome: outcome)) }
                case (.number(let n), false):
                    for range in r.ports { portCandidates.append((n, range, outcome)) }
                }
            }
            if !portCandidates.isEmpty {
                // Grouping keeps each protocol's candidates in rule order.
                let byProto = Dictionary(grouping: portCandidates, by: \.0)
                for proto in byProto.keys.sorted() {
                    switch flattenPorts(byProto[proto]!.map { ($0.1, $0.2) }) {
                    case .success(let rules):
                        node.level.portRules += rules.map { .init(proto: proto, ports: $0.0, outcome: $0.1) }
                    case .failure(let t):
                        problems.append(tie(t.a, t.b, "\(prefix) \(ProtocolMatch.number(proto)) ports \(t.range)"))
                    }
                }
            }
            node.level.protocolRules.sort { $0.proto < $1.proto }
            nodes.append(node)
            k = e
        }
        if !problems.isEmpty { return .failure(ConfigError(problems: problems)) }

        // Decisions are keyed by the chain of nodes a packet falls through. Each node's
        // level is hashed once, when first used, and given an index by content; bundles
        // are keyed by those indexes, so their cost is the nesting depth, not the size
        // of the port maps they inherit.
        var bundles: [CompiledPolicy.Bundle] = []
        var bundleIndex: [CompiledPolicy.Bundle: Int] = [:]
        var levels: [CompiledPolicy.Level] = []
        var levelIndex: [CompiledPolicy.Level: Int] = [:]
        var nodeLevel = [Int?](repeating: nil, count: nodes.count)
        func levelID(_ n: Int) -> Int {
            if let id = nodeLevel[n] { return id }
            let level = nodes[n].level
            let id = levelIndex[level] ?? levels.count
            if id == levels.count { levels.append(level); levelIndex[level] = id }
            nodeLevel[n] = id
            return id
        }
        func target(forStack stack: [Int]) -> CompiledPolicy.Target {
            var ids: [Int] = []
            var fallback = defaultOutcome
            for n in stack.reversed() {
                let node = nodes[n]
                if !node.level.portRules.isEmpty || !node.level.protocolRules.isEmpty { ids.append(levelID(n)) }
                if let any = node.any { fallback = any; break }
            }
            if ids.isEmpty { return .outcome(fallback) }
            let b = CompiledPolicy.Bundle(levels: ids, fallback: fallback)
            if let i = bundleIndex[b] { return .bundle(i) }
            bundles.append(b)
            bundleIndex[b] = bundles.count - 1
            return .bundle(bundles.count - 1)
        }

        let firstV6 = nodes.firstIndex { $0.prefix.family == .v6 } ?? nodes.count
        func flatten(_ family: IPAddress.Family) -> [CompiledPolicy.Interval] {
            let range = family == .v4 ? 0..<firstV6 : firstV6..<nodes.count
            let zero = family == .v4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, v6Low: 0)
            let top = family == .v4 ? IPAddress(v4: .max) : IPAddress(v6High: .max, v6Low: .max)
            var out: [CompiledPolicy.Interval] = []
            out.reserveCapacity(2 * range.count + 1)
            func emit(_ low: IPAddress, _ high: IPAddress, _ t: CompiledPolicy.Target) {
                if let last = out.last, last.target == t, last.high.successor == low {
                    out[out.count - 1] = .init(low: last.low, high: high, target: t)
                } else {
                    out.append(.init(low: low, high: high, target: t))
                }
            }
            var stack: [Int] = []
            var cursor: IPAddress? = zero  // nil: past the top of the address space
            func close(upTo end: IPAddress) {
                // Emit [cursor, end] under the current stack.
                guard let c = cursor, c <= end else { return }
                emit(c, end, target(forStack: stack))
                cursor = end.successor
            }
            for n in range {
                let start = nodes[n].prefix.address
                while let top = stack.last, nodes[top].last < start {
                    close(upTo: nodes[top].last)
                    stack.removeLast()
                }
                if let p = start.predecessor { close(upTo: p) }
                stack.append(n)
            }
            while let topNode = stack.last {
                close(upTo: nodes[topNode].last)
                stack.removeLast()
            }
            close(upTo: top)
            return out
        }

        let v4 = flatten(.v4)
        let v6 = flatten(.v6)
        return .success(CompiledPolicy(v4: v4, v6: v6, bundles: bundles, levels: levels, domainRules: domainRules))
    }

    private static func tie(_ a: Int, _ b: Int?, _ what: String) -> ConfigProblem {
        let other = b.map { "rules[\($0)]" } ?? "another rule"
        return ConfigProblem("rules[\(a)]", "ties with \(other) on \(what) with the opposite action; one of them must be more specific or removed")
    }

    /// Disjoint port ranges where each piece takes the narrowest covering range (at equal
    /// width the lowest rule). Fails with (rule, rule, range) at the lowest piece where two
    /// ranges of the same width overlap with different actions: neither is more specific.
    /// `candidates` come in rule order, as the compiler collects them.
    ///
    /// A sweep over the sorted cut points (each range's low and high + 1): a range enters
    /// the active heaps at its low and is dropped lazily once past its high, so the cost is
    /// O(n log n) in the number of ranges. Checking every range at every cut point took
    /// 110 s for one rule of 30,000 single ports.
    static func flattenPorts(_ candidates: [(PortRange, CompiledPolicy.Outcome)]) -> Result<[(PortRange, CompiledPolicy.Outcome)], PortTie> {
        // Heap keys (width, rule, position): the top is the narrowest range, and among equal
        // widths the first rule, which is what wins. One heap per action finds a rival of
        // the same width and the other action.
        typealias Key = (width: Int, rule: Int, index: Int)
        let keys: [Key] = candidates.indices.map { (width(candidates[$0].0), candidates[$0].1.rule ?? 0, $0) }
        let byLow = candidates.indices.sorted { candidates[$0].0.low < candidates[$1].0.low }
        let byEnd = candidates.indices.sorted { candidates[$0].0.high < candidates[$1].0.high }
        var active = [Bool](repeating: false, count: candidates.count)
        var all = MinHeap<Key>(less: { $0 < $1 }), allow = MinHeap<Key>(less: { $0 < $1 }), deny = MinHeap<Key>(less: { $0 < $1 })
        func top(_ h: inout MinHeap<Key>) -> Key? {
            while let t = h.peek, !active[t.index] { h.pop() }
            return h.peek
        }
        var out: [(PortRange, CompiledPolicy.Outcome)] = []
        var l = 0, e = 0
        while l < byLow.count || e < byEnd.count {
            // The next cut point: a range starts there or one ended just before it.
            let nextLow = l < byLow.count ? Int(candidates[byLow[l]].0.low) : Int.max
            let nextEnd = e < byEnd.count ? Int(candidates[byEnd[e]].0.high) + 1 : Int.max
            let start = min(nextLow, nextEnd)
            while e < byEnd.count, Int(candidates[byEnd[e]].0.high) + 1 == start { active[byEnd[e]] = false; e += 1 }
            while l < byLow.count, Int(candidates[byLow[l]].0.low) == start {
                let i = byLow[l]
                active[i] = true
                all.push(keys[i])
                if candidates[i].1.action == .allow { allow.push(keys[i]) } else { deny.push(keys[i]) }
                l += 1
            }
            guard let narrowest = top(&all) else { continue }
            // The piece runs to the next cut point (there is one: the active ranges end).
            let following = min(l < byLow.count ? Int(candidates[byLow[l]].0.low) : Int.max, Int(candidates[byEnd[e]].0.high) + 1)
            let end = following - 1
            let winner = candidates[narrowest.index].1
            if let rival = winner.action == .allow ? top(&deny) : top(&allow), rival.width == narrowest.width {
                let a = max(narrowest.rule, rival.rule), b = min(narrowest.rule, rival.rule)
                return .failure(PortTie(a, b, "\(start)-\(end)"))
            }
            if let last = out.last, last.1 == winner, Int(last.0.high) + 1 == start {
                out[out.count - 1] = (PortRange(low: last.0.low, high: UInt16(end)), winner)
            } else {
                out.append((PortRange(low: UInt16(start), high: UInt16(end)), winner))
            }
        }
        return .success(out)
    }

    struct PortTie: Error {
        let a: Int, b: Int, range: String
        init(_ a: Int, _ b: Int, _ range: String) { self.a = a; self.b = b; self.range = range }
    }

    private static func width(_ r: PortRange) -> Int { Int(r.high) - Int(r.low) }
}
