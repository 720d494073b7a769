/// Renders the filter section into gatepeer's one nftables table, `inet gatepeer`.
///
/// Layout (names are prefixed: nft keywords such as `fwd` cannot be chain names):
///   forward (hook forward): established/related accepted; traffic from tunnels -> outbound
///     (what returns from there is allowed: counted and accepted), traffic into tunnels -> inbound.
///   outbound: tunnel to tunnel and to backends accepted; `ip saddr vmap @groups4` picks the
///     device's group chain; sources in no group are denied.
///   g<N>: domain sets first (learned hosts are the most specific prefixes), then
///     `ip daddr vmap @g<N>_dst4` (disjoint intervals with per-element counters) whose
///     values are `return` (allow), `continue` (deny: the chain's last rule counts, logs and
///     drops) or bundle chains g<N>_b<K> (per level: port map, protocol map; then the fallback;
///     the level maps g<N>_l<K>p/t are shared by every bundle that inherits them); see MapInterval.
///   inbound: backend rules, then drop (counted, logged at a limited rate).
///   mss_clamp (hook forward, priority mangle): every forwarded SYN clamped to what its route
///     carries (`rt mtu`); SYNs out of a tunnel also to the tunnel MTU, SYNs to or from an
///     IPsec site's remote subnets (sets ipsec<N>_remote4/6) also to the site's MSS.
///   postrouting (hook nat): masquerade/SNAT of device traffic on the uplink; per-link SNAT of
///     backend traffic into the tunnel.
public struct NftRuleset: Equatable, Sendable {
    public static let family = "inet"
    public static let table = "gatepeer"
    /// Where the skeleton is built before it is copied into `table` (see Kernel.loadFilter).
    public static let stagingTable = "gatepeer_stage"
    /// The table without the elements of the destination maps (`maps`): everything nft
    /// parses. No set asks nft to merge intervals (`auto-merge`), and elements are
    /// declared inline: either would make libnftables load the kernel's whole ruleset,
    /// 100,000 elements included, first.
    public let text: String
    /// The destination maps' elements, loaded as raw nf_tables elements.
    public let maps: [IntervalMap]
    /// FNV-1a 64 of the text and the maps; kept in the kernel as the name of a counter
    /// (fp_<hex>).
    public let fingerprint: String
    /// FNV-1a 64 of the text alone (counter fs_<hex>): when the kernel's equals ours,
    /// only map elements differ and a delta suffices.
    public let skeletonFingerprint: String
    public let compiled: [CompiledPolicy]
    public let elementCount: Int

    /// The whole table as nft text, elements included (`filter show`).
    public var fullText: String {
        // One pass over the lines: searching the text once per map was the product of
        // the shard count and the text size (9.5 s for 20,000 hosts in one /8).
        var elements: [Substring: String] = [:]
        for m in maps where !m.intervals.isEmpty { elements[Substring(m.name)] = m.elementsText }
        guard !elements.isEmpty else { return text }
        var out: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            out.append(line)
            if line.hasPrefix("  map "), line.hasSuffix(" {"), let e = elements[line.dropFirst(6).dropLast(2)] {
                out.append(Substring("    elements = { " + e + " }"))
            }
        }
        return out.joined(separator: "\n")
    }

    /// One nft transaction that builds the skeleton in a dormant staging table (its
    /// hooks are not registered, so it never sees a packet), with `extras` (grant and
    /// learned elements) declared inline in their sets: an `add element` command would
    /// make libnftables load the whole ruleset. nil when an extra's set is not in it.
    public func stagingTransaction(extras: [NftElement]) -> String? {
        var body = text
        let head = "table inet gatepeer {\n"
        guard body.hasPrefix(head) else { return nil }
        body.replaceSubrange(body.startIndex..<body.index(body.startIndex, offsetBy: head.count),
                             with: "table inet \(NftRuleset.stagingTable) {\n  flags dormant\n")
        var bySet: [(String, [String])] = []
        for e in extras {
            if let i = bySet.firstIndex(where: { $0.0 == e.set }) { bySet[i].1.append(e.text) } else { bySet.append((e.set, [e.text])) }
        }
        for (set, elements) in bySet {
            guard let r = body.firstRange(of: "  set \(set) {\n") ?? body.firstRange(of: "  map \(set) {\n") else { return nil }
            body.insert(contentsOf: "    elements = { " + elements.joined(separator: ", ") + " }\n", at: r.upperBound)
        }
        let t = "inet \(NftRuleset.stagingTable)"
        return "table \(t)\ndelete table \(t)\n" + body
    }

    /// Counter names that hold per-rule counts for rules reached through bundle chains.
    public static func ruleCounter(group: Int, rule: Int) -> String { "r\(group)_\(rule)" }
    public static func defaultCounter(group: Int) -> String { "g\(group)_default" }
    /// Counter of the VXLAN guard's drops for `config.links[link]` (NftRenderer.vxlanGuard).
    public static func guardCounter(link: Int) -> String { "vx\(link)_drop" }
    public static func groupMap(group: Int, family: IPAddress.Family) -> String { "g\(group)_dst\(family == .v4 ? 4 : 6)" }
    /// The map of `CompiledPolicy.levels[level]` of group `group`: its port rules
    /// (`g<N>_l<K>p`, protocol . port) or its protocol rules (`g<N>_l<K>t`); one per
    /// distinct level, shared by every bundle chain that inherits it.
    public static func levelMap(group: Int, level: Int, ports: Bool) -> String { "g\(group)_l\(level)\(ports ? "p" : "t")" }
    /// Destination maps larger than this are split into shards (IntervalMap.shards).
    public static let shardLimit = 2048
}

public enum NftRenderer {
    /// `mtus`: each link's MTU as the planner resolved it (config, or underlay minus
    /// overhead); SYNs arriving from a tunnel are clamped to fit back through it.
    /// nil only without links and without a filter section: every config with links gets
    /// the table, for its MSS clamp (`mssClamp`) and VXLAN guard (`vxlanGuard`) if nothing else.
    /// `live`: what the kernel's own devices of config links run where it differs from the
    /// config (a change that is blocked or not made yet; Planner.liveTunnels): the guard
    /// covers it too until the device is what the config says.
    public static func render(_ config: GatePeerConfig, mtus: [String: Int] = [:], live: [LiveTunnel] = []) -> NftRuleset? {
        guard let f = config.filter else {
            guard !config.links.isEmpty else { return nil }
            return finish(["table inet gatepeer {"] + mssClamp(config, mtus: mtus) + vxlanGuard(config, live: live),
                          maps: [], compiled: [], elements: 0)
        }
        var compiled: [CompiledPolicy] = f.compiled ?? []
        if f.compiled == nil {
            for g in f.outbound {
                // The decoder already refused configs that do not compile.
                guard case .success(let c) = PolicyCompiler.compile(g) else { return nil }
                compiled.append(c)
            }
        }
        var out: [String] = []
        var elements = 0
        let tunnels = config.links.map { quote($0.name) }
        // Named sets only: the staging copy (Kernel.loadFilter) cannot carry anonymous ones.
        let tunnelSet = "@tunnels"

        func addrSet(_ name: String, _ family: IPAddress.Family, _ prefixes: [IPPrefix]) {
            let (lines, count) = addressSet(name, family, prefixes)
            out += lines
            elements += count
        }

        out.append("table inet gatepeer {")
        out.append(contentsOf: ["  set tunnels {", "    type ifname",
                                "    elements = { " + (tunnels.isEmpty ? "\"gatepeer-none\"" : tunnels.joined(separator: ", ")) + " }", "  }"])
        // Devices: their subnets and the LANs behind them (the sources NAT applies to).
        let devicePrefixes = config.links.flatMap { [$0.deviceSubnet] + $0.routes.map(\.destination) }
            + f.outbound.flatMap(\.sources)
        addrSet("devices4", .v4, devicePrefixes)
        addrSet("devices6", .v6, devicePrefixes)
        addrSet("backends4", .v4, f.backendPrefixes)
        addrSet("backends6", .v6, f.backendPrefixes)
        // Temporary grants (filled from the grants state; elements time out by themselves).
        for fam in ["4", "6"] {
            let a = fam == "4" ? "ipv4_addr" : "ipv6_addr"
            for (suffix, type) in [("", "\(a) . \(a) . inet_proto . inet_service"), ("p", "\(a) . \(a) . inet_proto"), ("a", "\(a) . \(a)")] {
                out.append("  set grants\(fam)\(suffix) {")
                out.append("    type \(type)")
                out.append("    flags interval,timeout")
                out.append("  }")
            }
        }

        // Counters: per verdict, per rule (rules reached through bundles), and the fingerprint slot.
        var counters = ["out_allow", "out_deny", "in_allow", "in_drop", "grant_allow"]
        var ruleChains: [(group: Int, rule: Int, action: FilterAction)] = []
        for (gi, c) in compiled.enumerated() {
            var used = Set<Int>()
            for level in c.levels {
                for r in level.portRules { if let k = r.outcome.rule { used.insert(k) } }
                for r in level.protocolRules { if let k = r.outcome.rule { used.insert(k) } }
            }
            for b in c.bundles { if let k = b.fallback.rule { used.insert(k) } }
            for k in c.domainRules { used.insert(k) }
            for k in used.sorted() { ruleChains.append((gi, k, f.outbound[gi].rules[k].action)) }
        }
        counters += ruleChains.map { NftRuleset.ruleCounter(group: $0.group, rule: $0.rule) }
        counters += compiled.indices.map { NftRuleset.defaultCounter(group: $0) }
        for c in counters { out.append("  counter \(c) {\n  }") }

        // Verdict chains.
        let logOut = f.logDrops ? ["    limit rate 10/second burst 20 packets log prefix \"gatepeer-drop out: \" level info"] : []
        let logIn = f.logDrops ? ["    limit rate 10/second burst 20 packets log prefix \"gatepeer-drop in: \" level info"] : []
        out.append(contentsOf: ["  chain v_out_allow {", "    counter name \"out_allow\" accept", "  }"])
        out.append(contentsOf: ["  chain v_out_deny {"] + logOut + ["    counter name \"out_deny\" drop", "  }"])
        out.append(contentsOf: ["  chain v_in_allow {", "    counter name \"in_allow\" accept", "  }"])
        out.append(contentsOf: ["  chain v_grant {", "    counter name \"grant_allow\" goto v_out_allow", "  }"])
        out.append(contentsOf: ["  chain v_in_drop {"] + logIn + ["    counter name \"in_drop\" drop", "  }"])
        func verdictChain(_ a: FilterAction) -> String { a == .allow ? "v_out_allow" : "v_out_deny" }
        for rc in ruleChains {
            let name = NftRuleset.ruleCounter(group: rc.group, rule: rc.rule)
            out.append(contentsOf: ["  chain \(name) {", "    counter name \"\(name)\" goto \(verdictChain(rc.action))", "  }"])
        }
        for (gi, g) in f.outbound.enumerated() {
            let name = NftRuleset.defaultCounter(group: gi)
            out.append(contentsOf: ["  chain \(name) {", "    counter name \"\(name)\" goto \(verdictChain(g.defaultAction))", "  }"])
        }
        /// Inside bundles every outcome goes through a counting chain (its rule's or the
        /// group default's); map elements count for themselves.
        func chainFor(_ gi: Int, _ o: CompiledPolicy.Outcome, viaRuleChain: Bool) -> String {
            if viaRuleChain {
                return o.rule.map { NftRuleset.ruleCounter(group: gi, rule: $0) } ?? NftRuleset.defaultCounter(group: gi)
            }
            return verdictChain(o.action)
        }
        func jumpFor(_ gi: Int, _ o: CompiledPolicy.Outcome, viaRuleChain: Bool) -> String {
            "goto " + chainFor(gi, o, viaRuleChain: viaRuleChain)
        }

        // Group chains, their destination maps and bundles.
        var maps: [IntervalMap] = []
        for (gi, c) in compiled.enumerated() {
            for (family, intervals) in [(IPAddress.Family.v4, c.v4), (.v6, c.v6)] {
                let name = NftRuleset.groupMap(group: gi, family: family)
                let type = family == .v4 ? "ipv4_addr" : "ipv6_addr"
                // Elements go in raw (NftRuleset.maps), each with the map's counter.
                let mapped = intervals.map { iv in
                    switch iv.target {
                    case .outcome(let o):
                        return MapInterval(low: iv.low, high: iv.high, verdict: o.action == .allow ? MapInterval.allow : MapInterval.deny)
                    case .bundle(let b): return MapInterval(low: iv.low, high: iv.high, verdict: "g\(gi)_b\(b)")
                    }
                }
                let shards = IntervalMap.shards(mapped, family: family, limit: NftRuleset.shardLimit)
                if shards.count == 1 {
                    out.append(contentsOf: ["  map \(name) {", "    type \(type) : verdict", "    flags interval", "    counter", "  }"])
                    maps.append(IntervalMap(name: name, family: family, intervals: mapped))
                } else {
                    // g<N>_dst<F> picks the shard: a map and a chain of the same name per prefix.
                    for (prefix, part) in shards {
                        let s = IntervalMap.shardName(group: gi, prefix: prefix)
                        out.append(contentsOf: ["  map \(s) {", "    type \(type) : verdict", "    flags interval", "    counter", "  }",
                                                "  chain \(s) {", "    \(family == .v4 ? "ip" : "ip6") daddr vmap @\(s)",
                                                "    goto v_out_deny", "  }"])
                        maps.append(IntervalMap(name: s, family: family, intervals: part))
                    }
                    out.append(contentsOf: ["  map \(name) {", "    type \(type) : verdict", "    flags interval",
                                            "    elements = { " + shards.map { "\($0.prefix) : goto \(IntervalMap.shardName(group: gi, prefix: $0.prefix))" }
                                                .joined(separator: ", ") + " }", "  }"])
                }
                elements += intervals.count
            }
            // Each distinct level once, as maps g<N>_l<K>p (ports) and g<N>_l<K>t
            // (protocols); every bundle under that prefix looks them up by name. Copies per
            // bundle made the table the product of the two rule sets (a /8's 2,000 ports
            // under 5,000 hosts: 219 MB of nft text).
            for (li, level) in c.levels.enumerated() {
                if !level.portRules.isEmpty {
                    let items = level.portRules.map { r in
                        "\(r.proto) . \(r.ports.portText) : \(jumpFor(gi, r.outcome, viaRuleChain: true))"
                    }
                    out.append(contentsOf: ["  map \(NftRuleset.levelMap(group: gi, level: li, ports: true)) {", "    type inet_proto . inet_service : verdict",
                                            "    flags interval", "    elements = { " + items.joined(separator: ", ") + " }", "  }"])
                }
                if !level.protocolRules.isEmpty {
                    let items = level.protocolRules.map { "\($0.proto) : \(jumpFor(gi, $0.outcome, viaRuleChain: true))" }
                    out.append(contentsOf: ["  map \(NftRuleset.levelMap(group: gi, level: li, ports: false)) {", "    type inet_proto : verdict",
                                            "    elements = { " + items.joined(separator: ", ") + " }", "  }"])
                }
            }
            for (bi, b) in c.bundles.enumerated() {
                var rules: [String] = []
                for li in b.levels {
                    if !c.levels[li].portRules.isEmpty {
                        rules.append("    meta l4proto . th dport vmap @\(NftRuleset.levelMap(group: gi, level: li, ports: true))")
                    }
                    if !c.levels[li].protocolRules.isEmpty {
                        rules.append("    meta l4proto vmap @\(NftRuleset.levelMap(group: gi, level: li, ports: false))")
                    }
                }
                out.append("  chain g\(gi)_b\(bi) {")
                out.append(contentsOf: rules)
                out.append("    \(jumpFor(gi, b.fallback, viaRuleChain: true))")
                out.append("  }")
            }
            // Learned addresses of domain rules: verdict maps whose elements time out.
            if !c.domainRules.isEmpty {
                for (fam, a) in [("4", "ipv4_addr"), ("6", "ipv6_addr")] {
                    for (suffix, type, flags) in [("", "\(a) . inet_proto . inet_service", "interval,timeout"), ("p", "\(a) . inet_proto", "timeout"), ("a", a, "timeout")] {
                        out.append("  map g\(gi)_dom\(fam)\(suffix) {")
                        out.append("    type \(type) : verdict")
                        out.append("    flags \(flags)")
                        out.append("  }")
                    }
                }
            }
            out.append("  chain g\(gi) {")
            if !c.domainRules.isEmpty {
                out.append("    ip daddr . meta l4proto . th dport vmap @g\(gi)_dom4")
                out.append("    ip daddr . meta l4proto vmap @g\(gi)_dom4p")
                out.append("    ip daddr vmap @g\(gi)_dom4a")
                out.append("    ip6 daddr . meta l4proto . th dport vmap @g\(gi)_dom6")
                out.append("    ip6 daddr . meta l4proto vmap @g\(gi)_dom6p")
                out.append("    ip6 daddr vmap @g\(gi)_dom6a")
            }
            out.append("    ip daddr vmap @\(NftRuleset.groupMap(group: gi, family: .v4))")
            out.append("    ip6 daddr vmap @\(NftRuleset.groupMap(group: gi, family: .v6))")
            out.append("    goto v_out_deny")  // the maps' `continue`
            out.append("  }")
        }

        // Source -> group.
        for family in [IPAddress.Family.v4, .v6] {
            var entries: [(IPPrefix, Int)] = []
            var seen = Set<IPPrefix>()
            for (gi, g) in f.outbound.enumerated() {
                let mine = g.sources.filter { $0.family == family }
                // Nested sources of one group would overlap in the interval map: keep the
                // widest. One sweep in (network, length) order, where a prefix's wider
                // cover comes first: comparing every pair took 92 s for 20,000 sources.
                var covered = [Bool](repeating: false, count: mine.count)
                var cover: IPPrefix? = nil
                for i in mine.indices.sorted(by: { (mine[$0].network.address, mine[$0].length) < (mine[$1].network.address, mine[$1].length) }) {
                    let s = mine[i]
                    if let c = cover, s.network.address <= c.lastAddress {
                        covered[i] = c.length < s.length
                    } else {
                        cover = s
                    }
                }
                for (i, s) in mine.enumerated() where !covered[i] && seen.insert(s).inserted { entries.append((s, gi)) }
            }
            out.append("  map groups\(family == .v4 ? 4 : 6) {")
            out.append("    type \(family == .v4 ? "ipv4_addr" : "ipv6_addr") : verdict")
            out.append("    flags interval")
            if !entries.isEmpty {
                out.append("    elements = { " + entries.map { "\($0.0.network) : goto g\($0.1)" }.joined(separator: ", ") + " }")
                elements += entries.count
            }
            out.append("  }")
        }

        out.append("  chain outbound {")
        out.append("    oifname \(tunnelSet) accept")
        out.append("    ip daddr @backends4 accept")
        out.append("    ip6 daddr @backends6 accept")
        out.append("    ip saddr . ip daddr . meta l4proto . th dport @grants4 goto v_grant")
        out.append("    ip saddr . ip daddr . meta l4proto @grants4p goto v_grant")
        out.append("    ip saddr . ip daddr @grants4a goto v_grant")
        out.append("    ip6 saddr . ip6 daddr . meta l4proto . th dport @grants6 goto v_grant")
        out.append("    ip6 saddr . ip6 daddr . meta l4proto @grants6p goto v_grant")
        out.append("    ip6 saddr . ip6 daddr @grants6a goto v_grant")
        out.append("    ip saddr vmap @groups4")
        out.append("    ip6 saddr vmap @groups6")
        out.append("    goto v_out_deny")
        out.append("  }")

        let inbound = f.inbound ?? f.backendPrefixes.map { InboundRule(from: $0) }
        var inboundRules: [String] = []
        for (k, r) in inbound.enumerated() {
            var s = "    \(r.from.family == .v4 ? "ip" : "ip6") saddr \(r.from.network)"
            if case .number(let n) = r.protocolMatch { s += " meta l4proto \(n)" }
            if !r.ports.isEmpty {
                let ports = mergedRanges(r.ports.map { ($0.low, $0.high) }).map { PortRange(low: $0.0, high: $0.1).portText }
                out.append(contentsOf: ["  set in\(k)_ports {", "    type inet_service", "    flags interval",
                                        "    elements = { " + ports.joined(separator: ", ") + " }", "  }"])
                s += " th dport @in\(k)_ports"
            }
            inboundRules.append(s + " goto v_in_allow")
        }
        out.append("  chain inbound {")
        out.append(contentsOf: inboundRules)
        out.append("    goto v_in_drop")
        out.append("  }")

        out.append("  chain forward {")
        out.append("    type filter hook forward priority filter; policy accept;")
        out.append("    ct state established,related accept")
        out.append("    iifname \(tunnelSet) jump outbound")
        out.append("    iifname \(tunnelSet) goto v_out_allow")  // a destination map's `return`
        out.append("    oifname \(tunnelSet) jump inbound")
        out.append("  }")

        if f.mssClamp { out += mssClamp(config, mtus: mtus) }

        out.append("  chain postrouting {")
        out.append("    type nat hook postrouting priority srcnat; policy accept;")
        if let up = f.uplinkDevice {
            switch f.nat {
            case .none: break
            case .masquerade:
                out.append("    oifname \(quote(up)) ip saddr @devices4 masquerade")
                out.append("    oifname \(quote(up)) ip6 saddr @devices6 masquerade")
            case .snat(let a):
                let fam = a.family == .v4 ? "ip" : "ip6"
                out.append("    oifname \(quote(up)) \(fam) saddr @devices\(a.family == .v4 ? 4 : 6) snat \(fam) to \(a)")
            }
        }
        for l in config.links where l.snatBackendTraffic {
            let fam = l.innerIpAddress.family == .v4 ? "ip" : "ip6"
            out.append("    oifname \(quote(l.name)) \(fam) daddr \(l.deviceSubnet) \(fam) saddr != \(l.deviceSubnet) snat \(fam) to \(l.innerIpAddress.address)")
        }
        out.append("  }")
        out += vxlanGuard(config, live: live)
        return finish(out, maps: maps, compiled: compiled, elements: elements)
    }

    /// Named interval set `name` of the `family` addresses of `prefixes` (others ignored),
    /// and how many elements it has. Merged here: nft's auto-merge would load the kernel's
    /// whole ruleset first.
    static func addressSet(_ name: String, _ family: IPAddress.Family, _ prefixes: [IPPrefix]) -> (lines: [String], elements: Int) {
        let merged = mergedRanges(prefixes.filter { $0.family == family }.map { ($0.network.address, $0.lastAddress) })
        var out = ["  set \(name) {", "    type \(family == .v4 ? "ipv4_addr" : "ipv6_addr")", "    flags interval"]
        if !merged.isEmpty {
            out.append("    elements = { " + merged.map { $0.0 == $0.1 ? "\($0.0)" : "\($0.0)-\($0.1)" }.joined(separator: ", ") + " }")
        }
        out.append("  }")
        return (out, merged.count)
    }

    /// Chain mss_clamp: forwarded TCP SYN and SYN/ACK clamped to what their route carries,
    /// and out of a tunnel also to the tunnel MTU (`mtus`, else the link's `mtu`; a link
    /// with neither gets no tunnel rule). Every config with links gets it unless
    /// `filter.mssClamp` is false: devices' traffic is forwarded without a filter section too.
    /// SYNs to or from an IPsec site's remote subnets (sets ipsec<N>_remote4/6, N the
    /// site's index in `ipsec.sites`, declared before the chain) are clamped to the site's
    /// `effectiveMSS` in both directions: with kernel XFRM policies the route back to a
    /// site's host is the plain uplink, so `rt mtu` alone would leave a SYN from the site
    /// toward a device at the tunnel's or the uplink's MSS. A route-based site's 0.0.0.0/0
    /// or ::/0 selectors are left out (they would clamp every forwarded SYN): its traffic
    /// is routed through its XFRM interface both ways, whose MTU `rt mtu` reads.
    static func mssClamp(_ config: GatePeerConfig, mtus: [String: Int]) -> [String] {
        var sets: [String] = []
        var siteRules: [String] = []
        for (i, site) in (config.ipsec?.sites ?? []).enumerated() {
            let remote = site.remote.subnets.filter { site.mode == .policy || $0.length > 0 }
            for (family, keyword) in [(IPAddress.Family.v4, "ip"), (.v6, "ip6")] where remote.contains(where: { $0.family == family }) {
                let name = "ipsec\(i)_remote\(family == .v4 ? 4 : 6)"
                sets += addressSet(name, family, remote).lines
                for dir in ["daddr", "saddr"] {
                    siteRules.append("    \(keyword) \(dir) @\(name) tcp flags & (syn | rst) == syn tcp option maxseg size set \(site.effectiveMSS)")
                }
            }
        }
        var out = sets + ["  chain mss_clamp {", "    type filter hook forward priority mangle; policy accept;"]
        // Out of a tunnel: also the tunnel's own MTU, or the far end's full-size segments
        // would not fit back through it (the kernel only lowers an MSS, nft_exthdr.c
        // refuses an increase: the rules below leave the smallest, no `> N` guard needed).
        for l in config.links {
            guard let mtu = mtus[l.name] ?? l.mtu else { continue }
            out.append("    iifname \(quote(l.name)) meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size set \(mtu - 40)")
            out.append("    iifname \(quote(l.name)) meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size set \(mtu - 60)")
        }
        out += siteRules
        // Every forwarded SYN and SYN/ACK, whichever interface it leaves by (a tunnel, the
        // uplink, a PPPoE/WireGuard/TUN device, an IPsec SA): what its route carries.
        // Senders whose ICMP "fragmentation needed" is lost on the way never learn a
        // narrower path. `rt mtu` is the smaller of the MTU of the route out and of the
        // route back to the source, less the IP and TCP headers (nft_rt.c); for IPsec,
        // ip_forward has swapped in the xfrm bundle before this hook, so its MTU counts
        // the ESP overhead.
        out.append("    tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu")
        out.append("  }")
        return out
    }

    /// The table from its lines: fingerprints of the text (fs_) and of text and maps (fp_)
    /// as counter names, and the closing brace.
    static func finish(_ out: [String], maps: [IntervalMap], compiled: [CompiledPolicy], elements: Int) -> NftRuleset {
        let body = out.joined(separator: "\n")
        var h = fnv1a64(body.utf8)
        let skeleton = hex(h)
        for m in maps { m.digest(into: &h) }
        let fp = hex(h)
        let text = body + "\n  counter fs_\(skeleton) {\n  }\n  counter fp_\(fp) {\n  }\n}\n"
        return NftRuleset(text: text, maps: maps, fingerprint: fp, skeletonFingerprint: skeleton, compiled: compiled, elementCount: elements)
    }

    /// The VXLAN guard (input hook): VXLAN for one of our links (its UDP port and its VNI,
    /// `@th,96,24`: the 24 bits of the VNI, after the UDP header (8 bytes), the VXLAN
    /// flags byte and 3 reserved bytes; RFC 7348 section 5) that arrives on another
    /// interface than the link's underlay, or from a source that is not one of that link's
    /// peers, is counted, logged at a limited rate and dropped before the vxlan socket
    /// sees it. The interface check stops a host on another side (the internet uplink)
    /// that spoofs a peer's address; on the underlay itself only IPsec could tell a spoofed
    /// peer from the real one. Where a config link's device still runs another port, VNI
    /// or underlay (`live`: a change blocked or not made yet), that is guarded as well, so
    /// a blocked change never moves the guard off the running tunnel. Without it any host on the
    /// underlay can send frames into the tunnel as if it were a device, and learning
    /// points FDB entries at it. The kernel binds the vxlan socket to the wildcard address
    /// (one per port and family), so the guard matches every address the input hook
    /// delivers to (local, broadcast, multicast), not only `outerIpAddress`: the uplink's
    /// or the tunnel's own address reach the link just as well. Matching the VNI leaves
    /// other tools' VXLAN on the same port alone. A link with no peer of its outer family
    /// accepts no VXLAN at all.
    static func vxlanGuard(_ config: GatePeerConfig, live: [LiveTunnel] = []) -> [String] {
        var out: [String] = []
        var rules: [String] = []
        for (i, l) in config.links.enumerated() {
            let v4 = l.outerIpAddress.family == .v4
            var peers: [IPAddress] = []
            for p in l.peers.map(\.outerIpAddress) where p.family == l.outerIpAddress.family && !peers.contains(p) { peers.append(p) }
            out += ["  set vx\(i)_peers {", "    type \(v4 ? "ipv4_addr" : "ipv6_addr")"]
            if !peers.isEmpty { out.append("    elements = { " + peers.map(\.description).joined(separator: ", ") + " }") }
            out += ["  }", "  counter \(NftRuleset.guardCounter(link: i)) {", "  }"]
            // What the config says, then what the kernel's device still runs where it differs.
            var tunnels = [LiveTunnel(link: i, port: l.port, vni: l.vxlanId, family: l.outerIpAddress.family, underlay: l.underlayDevice)]
            for t in live where t.link == i && !tunnels.contains(t) { tunnels.append(t) }
            var devices: [String] = []
            for t in tunnels where !devices.contains(t.underlay) { devices.append(t.underlay) }
            out += ["  set vx\(i)_dev {", "    type ifname", "    elements = { " + devices.map(quote).joined(separator: ", ") + " }", "  }"]
            out += ["  chain vx\(i)_drop {",
                    "    limit rate 10/second burst 20 packets log prefix \(quote("gatepeer-vxlan \(l.name): ")) level info",
                    "    counter name \(quote(NftRuleset.guardCounter(link: i))) drop", "  }"]
            for t in tunnels {
                let ip = t.family == .v4 ? "ip" : "ip6"
                let match = "    udp dport \(t.port) @th,96,24 \(t.vni)"
                rules.append("\(match) iifname != @vx\(i)_dev goto vx\(i)_drop")
                rules.append("\(match) \(ip) saddr != @vx\(i)_peers goto vx\(i)_drop")
            }
        }
        out += ["  chain vxlan_guard {", "    type filter hook input priority filter; policy accept;"] + rules + ["  }"]
        return out
    }

    /// Sorted, merged (overlapping or adjacent) closed ranges.
    static func mergedRanges<T: Comparable & Sendable>(_ ranges: [(T, T)], successor: (T) -> T? = { _ in nil }) -> [(T, T)] {
        var out: [(T, T)] = []
        for r in ranges.sorted(by: { $0.0 < $1.0 }) {
            if let last = out.last, r.0 <= last.1 || successor(last.1) == r.0 {
                if r.1 > last.1 { out[out.count - 1].1 = r.1 }
            } else {
                out.append(r)
            }
        }
        return out
    }

    static func mergedRanges(_ ranges: [(IPAddress, IPAddress)]) -> [(IPAddress, IPAddress)] {
        mergedRanges(ranges, successor: { $0.successor })
    }

    static func mergedRanges(_ ranges: [(UInt16, UInt16)]) -> [(UInt16, UInt16)] {
        mergedRanges(ranges, successor: { $0 == .max ? nil : $0 + 1 })
    }

    /// 16 lower-case hex digits (fingerprint and digest counter names).
    public static func hex(_ h: UInt64) -> String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func quote(_ s: String) -> String { "\"\(s)\"" }

}

/// A VXLAN tunnel the guard covers: config link `link`'s UDP port, VNI, outer family and
/// underlay, as the config says or as the kernel's own device of that link still runs it.
public struct LiveTunnel: Equatable, Sendable {
    public var link: Int
    public var port: UInt16
    public var vni: UInt32
    public var family: IPAddress.Family
    public var underlay: String
    public init(link: Int, port: UInt16, vni: UInt32, family: IPAddress.Family, underlay: String) {
        self.link = link; self.port = port; self.vni = vni; self.family = family; self.underlay = underlay
    }
}
