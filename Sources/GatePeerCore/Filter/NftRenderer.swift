/// Renders the config into gatepeer's one nftables table, `inet gatepeer`, as an NftTable
/// (names from NftNames). One function per part, in the order the table declares them:
///   sets (`addressSets`): tunnel names, device and backend prefixes, grants.
///   verdicts (`verdicts`): counters and the chains that count and decide.
///   g<N> (`group`): domain maps first (learned hosts are the most specific prefixes), then
///     `ip daddr vmap @g<N>_dst4` (disjoint intervals with per-element counters) whose
///     values are `return` (allow), `continue` (deny: the chain's last rule counts, logs and
///     drops) or bundle chains g<N>_b<K> (per level: port map, protocol map; then the fallback;
///     the level maps g<N>_l<K>p/t are shared by every bundle that inherits them); see MapInterval.
///   groups4/6 (`sourceMaps`), outbound (`outbound`): tunnel to tunnel and to backends
///     accepted; grants; `ip saddr vmap @groups4` picks the device's group chain; sources
///     in no group are denied.
///   inbound (`inbound`): backend rules, then drop (counted, logged at a limited rate).
///   forward (`forward`, hook forward): established/related accepted; traffic from tunnels
///     -> outbound (what returns from there is allowed: counted and accepted), traffic into
///     tunnels -> inbound.
///   mss_clamp (`mssClamp`, hook forward, priority mangle): every forwarded SYN clamped to
///     what its route carries (`rt mtu`); SYNs out of a tunnel also to the tunnel MTU, SYNs
///     to or from an IPsec site's remote subnets also to the site's MSS.
///   postrouting (`postrouting`, hook nat): masquerade/SNAT of device traffic on the uplink;
///     per-link SNAT of backend traffic into the tunnel.
///   vxlan_guard (`vxlanGuard`, hook input).
public enum NftRenderer {
    /// `mtus`: each link's MTU as the planner resolved it (config, or underlay minus
    /// overhead); SYNs arriving from a tunnel are clamped to fit back through it.
    /// nil only without links and without a filter section: every config with links gets
    /// the table, for its MSS clamp (`mssClamp`) and VXLAN guard (`vxlanGuard`) if nothing else.
    /// `live`: what the kernel's own devices of config links run where it differs from the
    /// config (a change that is blocked or not made yet; Planner.liveTunnels): the guard
    /// covers it too until the device is what the config says.
    public static func render(_ config: GatePeerConfig, mtus: [String: Int] = [:], live: [LiveTunnel] = []) -> NftRuleset? {
        var t = NftTable()
        guard let f = config.filter else {
            guard !config.links.isEmpty else { return nil }
            mssClamp(config, mtus: mtus, into: &t)
            vxlanGuard(config, live: live, into: &t)
            return finish(t, maps: [], compiled: [], elements: 0)
        }
        var compiled: [CompiledPolicy] = f.compiled ?? []
        if f.compiled == nil {
            for g in f.outbound {
                // The decoder already refused configs that do not compile.
                guard case .success(let c) = PolicyCompiler.compile(g) else { return nil }
                compiled.append(c)
            }
        }
        var elements = addressSets(config, f, into: &t)
        verdicts(f, compiled, into: &t)
        var maps: [IntervalMap] = []
        for (gi, c) in compiled.enumerated() { elements += group(gi, c, into: &t, maps: &maps) }
        elements += sourceMaps(f, into: &t)
        outbound(into: &t)
        inbound(f, into: &t)
        forward(into: &t)
        if f.mssClamp { mssClamp(config, mtus: mtus, into: &t) }
        postrouting(config, f, into: &t)
        vxlanGuard(config, live: live, into: &t)
        return finish(t, maps: maps, compiled: compiled, elements: elements)
    }

    // Named sets only (`@tunnels`, never `{ ... }` in a rule): the staging copy
    // (Kernel.loadFilter) cannot carry anonymous ones.

    /// Sets `tunnels`, devices4/6 (devices' subnets and the LANs behind them: the sources
    /// NAT applies to), backends4/6, and the grant sets (filled from the grants state;
    /// elements time out by themselves). Returns the address elements declared.
    static func addressSets(_ config: GatePeerConfig, _ f: FilterConfig, into t: inout NftTable) -> Int {
        let tunnels = config.links.map { quote($0.name) }
        t.declarations.append(.set(NftSet(NftNames.tunnels, key: [.ifname], elements: tunnels.isEmpty ? ["\"gatepeer-none\""] : tunnels)))
        let devicePrefixes = config.links.flatMap { [$0.deviceSubnet] + $0.routes.map(\.destination) } + f.outbound.flatMap(\.sources)
        var elements = 0
        for (name, prefixes) in [(NftNames.devices, devicePrefixes), (NftNames.backends, f.backendPrefixes)] {
            for family in [IPAddress.Family.v4, .v6] { elements += addressSet(name(family), family, prefixes, into: &t) }
        }
        for family in [IPAddress.Family.v4, .v6] {
            let a = NftDataType.address(family)
            for shape in NftNames.KeyShape.allCases {
                t.declarations.append(.set(NftSet(NftNames.grants(family, shape), key: [a, a] + shape.tail, flags: [.interval, .timeout])))
            }
        }
        return elements
    }

    /// The rules whose outcomes need a counting chain (reached through bundle chains or
    /// domain maps), by group, in rule order.
    static func countedRules(_ compiled: [CompiledPolicy]) -> [(group: Int, rule: Int)] {
        var out: [(group: Int, rule: Int)] = []
        for (gi, c) in compiled.enumerated() {
            var used = Set<Int>()
            for level in c.levels {
                for r in level.portRules { if let k = r.outcome.rule { used.insert(k) } }
                for r in level.protocolRules { if let k = r.outcome.rule { used.insert(k) } }
            }
            for b in c.bundles { if let k = b.fallback.rule { used.insert(k) } }
            for k in c.domainRules { used.insert(k) }
            for k in used.sorted() { out.append((gi, k)) }
        }
        return out
    }

    /// Counters (per verdict, per counted rule, per group default) and the chains that
    /// count in them and decide: v_* (drops logged at a limited rate if `logDrops`),
    /// r<N>_<K> and g<N>_default (counted, then the verdict chain).
    static func verdicts(_ f: FilterConfig, _ compiled: [CompiledPolicy], into t: inout NftTable) {
        let counted = countedRules(compiled)
        var counters = NftNames.verdicts.map(\.counter)
        counters += counted.map { NftNames.ruleCounter(group: $0.group, rule: $0.rule) }
        counters += compiled.indices.map { NftNames.defaultCounter(group: $0) }
        t.declarations += counters.map { .counter($0) }

        func log(_ direction: String) -> [String] {
            f.logDrops ? ["limit rate 10/second burst 20 packets log prefix \"gatepeer-drop \(direction): \" level info"] : []
        }
        func counting(_ v: NftNames.Verdict, _ then: String, log: [String] = []) {
            t.declarations.append(.chain(NftChain(v.chain, rules: log + ["counter name \(quote(v.counter)) \(then)"])))
        }
        counting(NftNames.outAllow, "accept")
        counting(NftNames.outDeny, "drop", log: log("out"))
        counting(NftNames.inAllow, "accept")
        counting(NftNames.grantAllow, "goto \(NftNames.outAllow.chain)")
        counting(NftNames.inDrop, "drop", log: log("in"))
        for rc in counted {
            let name = NftNames.ruleCounter(group: rc.group, rule: rc.rule)
            counting(NftNames.Verdict(chain: name, counter: name), "goto \(verdictChain(f.outbound[rc.group].rules[rc.rule].action))")
        }
        for (gi, g) in f.outbound.enumerated() {
            let name = NftNames.defaultCounter(group: gi)
            counting(NftNames.Verdict(chain: name, counter: name), "goto \(verdictChain(g.defaultAction))")
        }
    }

    static func verdictChain(_ a: FilterAction) -> String { a == .allow ? NftNames.outAllow.chain : NftNames.outDeny.chain }

    /// Inside bundles every outcome goes through a counting chain (its rule's or the
    /// group default's); map elements count for themselves.
    static func countingChain(_ gi: Int, _ o: CompiledPolicy.Outcome) -> String {
        o.rule.map { NftNames.ruleCounter(group: gi, rule: $0) } ?? NftNames.defaultCounter(group: gi)
    }

    /// Group `gi`'s destination maps, level maps, bundle chains, learned-address maps and
    /// its chain. Appends the maps whose elements are loaded raw to `maps`; returns the
    /// destination intervals.
    static func group(_ gi: Int, _ c: CompiledPolicy, into t: inout NftTable, maps: inout [IntervalMap]) -> Int {
        var elements = 0
        for (family, intervals) in [(IPAddress.Family.v4, c.v4), (.v6, c.v6)] {
            destinationMap(gi, family, intervals, into: &t, maps: &maps)
            elements += intervals.count
        }
        levelMaps(gi, c, into: &t)
        for (bi, b) in c.bundles.enumerated() {
            var rules: [String] = []
            for li in b.levels {
                if !c.levels[li].portRules.isEmpty {
                    rules.append("meta l4proto . th dport vmap @\(NftNames.levelMap(group: gi, level: li, ports: true))")
                }
                if !c.levels[li].protocolRules.isEmpty {
                    rules.append("meta l4proto vmap @\(NftNames.levelMap(group: gi, level: li, ports: false))")
                }
            }
            t.declarations.append(.chain(NftChain(NftNames.bundleChain(group: gi, bundle: bi), rules: rules + ["goto " + countingChain(gi, b.fallback)])))
        }
        var rules: [String] = []
        if !c.domainRules.isEmpty { rules = learnedMaps(gi, into: &t) }
        rules.append("ip daddr vmap @\(NftNames.groupMap(group: gi, family: .v4))")
        rules.append("ip6 daddr vmap @\(NftNames.groupMap(group: gi, family: .v6))")
        rules.append("goto \(NftNames.outDeny.chain)")  // the maps' `continue`
        t.declarations.append(.chain(NftChain(NftNames.groupChain(group: gi), rules: rules)))
        return elements
    }

    /// g<N>_dst<F>, its elements loaded raw (NftRuleset.maps), each with the map's
    /// counter; or, past NftRuleset.shardLimit intervals, a map and a chain per shard and
    /// g<N>_dst<F> picking the shard.
    static func destinationMap(_ gi: Int, _ family: IPAddress.Family, _ intervals: [CompiledPolicy.Interval], into t: inout NftTable, maps: inout [IntervalMap]) {
        let name = NftNames.groupMap(group: gi, family: family)
        let key = [NftDataType.address(family)]
        let mapped = intervals.map { iv in
            switch iv.target {
            case .outcome(let o):
                return MapInterval(low: iv.low, high: iv.high, verdict: o.action == .allow ? MapInterval.allow : MapInterval.deny)
            case .bundle(let b): return MapInterval(low: iv.low, high: iv.high, verdict: NftNames.bundleChain(group: gi, bundle: b))
            }
        }
        let shards = IntervalMap.shards(mapped, family: family, limit: NftRuleset.shardLimit)
        if shards.count == 1 {
            t.declarations.append(.set(NftSet(name, key: key, verdictMap: true, flags: [.interval], counter: true)))
            maps.append(IntervalMap(name: name, family: family, intervals: mapped))
            return
        }
        for (prefix, part) in shards {
            let s = NftNames.shard(group: gi, prefix: prefix)
            t.declarations.append(.set(NftSet(s, key: key, verdictMap: true, flags: [.interval], counter: true)))
            t.declarations.append(.chain(NftChain(s, rules: ["\(family == .v4 ? "ip" : "ip6") daddr vmap @\(s)", "goto \(NftNames.outDeny.chain)"])))
            maps.append(IntervalMap(name: s, family: family, intervals: part))
        }
        let picks = shards.map { "\($0.prefix) : goto \(NftNames.shard(group: gi, prefix: $0.prefix))" }
        t.declarations.append(.set(NftSet(name, key: key, verdictMap: true, flags: [.interval], elements: picks)))
    }

    /// Each distinct level once, as maps g<N>_l<K>p (ports) and g<N>_l<K>t (protocols);
    /// every bundle under that prefix looks them up by name. Copies per bundle made the
    /// table the product of the two rule sets (a /8's 2,000 ports under 5,000 hosts:
    /// 219 MB of nft text).
    static func levelMaps(_ gi: Int, _ c: CompiledPolicy, into t: inout NftTable) {
        for (li, level) in c.levels.enumerated() {
            if !level.portRules.isEmpty {
                let items = level.portRules.map { "\($0.proto) . \($0.ports.portText) : goto \(countingChain(gi, $0.outcome))" }
                t.declarations.append(.set(NftSet(NftNames.levelMap(group: gi, level: li, ports: true), key: [.proto, .service],
                                                  verdictMap: true, flags: [.interval], elements: items)))
            }
            if !level.protocolRules.isEmpty {
                let items = level.protocolRules.map { "\($0.proto) : goto \(countingChain(gi, $0.outcome))" }
                t.declarations.append(.set(NftSet(NftNames.levelMap(group: gi, level: li, ports: false), key: [.proto],
                                                  verdictMap: true, elements: items)))
            }
        }
    }

    /// Learned addresses of group `gi`'s domain rules: verdict maps whose elements time
    /// out (filled from the learned-addresses state). Returns the group chain's rules that
    /// look them up.
    static func learnedMaps(_ gi: Int, into t: inout NftTable) -> [String] {
        var rules: [String] = []
        for family in [IPAddress.Family.v4, .v6] {
            for shape in NftNames.KeyShape.allCases {
                let name = NftNames.learned(group: gi, family: family, shape)
                // Only the port shape's key is a range (pipapo); the others are exact.
                t.declarations.append(.set(NftSet(name, key: [.address(family)] + shape.tail, verdictMap: true,
                                                  flags: shape == .ports ? [.interval, .timeout] : [.timeout])))
            }
        }
        for family in [IPAddress.Family.v4, .v6] {
            let ip = family == .v4 ? "ip" : "ip6"
            for shape in NftNames.KeyShape.allCases {
                rules.append("\(ip) daddr\(shape.match) vmap @\(NftNames.learned(group: gi, family: family, shape))")
            }
        }
        return rules
    }

    /// Maps groups4/6: source -> group chain. Returns their elements.
    static func sourceMaps(_ f: FilterConfig, into t: inout NftTable) -> Int {
        var elements = 0
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
            t.declarations.append(.set(NftSet(NftNames.groups(family), key: [.address(family)], verdictMap: true, flags: [.interval],
                                              elements: entries.map { "\($0.0.network) : goto \(NftNames.groupChain(group: $0.1))" })))
            elements += entries.count
        }
        return elements
    }

    /// Chain outbound: to tunnels and backends accepted, grants, then the source's group.
    static func outbound(into t: inout NftTable) {
        var rules = ["oifname @\(NftNames.tunnels) accept",
                     "ip daddr @\(NftNames.backends(.v4)) accept",
                     "ip6 daddr @\(NftNames.backends(.v6)) accept"]
        for family in [IPAddress.Family.v4, .v6] {
            let ip = family == .v4 ? "ip" : "ip6"
            for shape in NftNames.KeyShape.allCases {
                rules.append("\(ip) saddr . \(ip) daddr\(shape.match) @\(NftNames.grants(family, shape)) goto \(NftNames.grantAllow.chain)")
            }
        }
        rules += ["ip saddr vmap @\(NftNames.groups(.v4))", "ip6 saddr vmap @\(NftNames.groups(.v6))", "goto \(NftNames.outDeny.chain)"]
        t.declarations.append(.chain(NftChain(NftNames.outbound, rules: rules)))
    }

    /// Chain inbound: the inbound rules (the backends by default), each port list a set
    /// in<K>_ports declared before the chain; then drop.
    static func inbound(_ f: FilterConfig, into t: inout NftTable) {
        let inbound = f.inbound ?? f.backendPrefixes.map { InboundRule(from: $0) }
        var rules: [String] = []
        for (k, r) in inbound.enumerated() {
            var s = "\(r.from.family == .v4 ? "ip" : "ip6") saddr \(r.from.network)"
            if case .number(let n) = r.protocolMatch { s += " meta l4proto \(n)" }
            if !r.ports.isEmpty {
                let ports = mergedRanges(r.ports.map { ($0.low, $0.high) }).map { PortRange(low: $0.0, high: $0.1).portText }
                let name = NftNames.inboundPorts(rule: k)
                t.declarations.append(.set(NftSet(name, key: [.service], flags: [.interval], elements: ports)))
                s += " th dport @\(name)"
            }
            rules.append(s + " goto \(NftNames.inAllow.chain)")
        }
        t.declarations.append(.chain(NftChain(NftNames.inbound, rules: rules + ["goto \(NftNames.inDrop.chain)"])))
    }

    /// Chain forward (hook forward, priority filter): established and related accepted,
    /// from tunnels through outbound (its `return` lands on the counted accept), into
    /// tunnels through inbound.
    static func forward(into t: inout NftTable) {
        let tunnels = "@" + NftNames.tunnels
        t.declarations.append(.chain(NftChain(NftNames.forward, hook: .init(hook: "forward", priority: "filter"), rules: [
            "ct state established,related accept",
            "iifname \(tunnels) jump \(NftNames.outbound)",
            "iifname \(tunnels) goto \(NftNames.outAllow.chain)",  // a destination map's `return`
            "oifname \(tunnels) jump \(NftNames.inbound)",
        ])))
    }

    /// Chain postrouting (hook nat, priority srcnat): masquerade or SNAT of the devices'
    /// traffic on the uplink; per-link SNAT of backend traffic into the tunnel.
    static func postrouting(_ config: GatePeerConfig, _ f: FilterConfig, into t: inout NftTable) {
        var rules: [String] = []
        if let up = f.uplinkDevice {
            switch f.nat {
            case .none: break
            case .masquerade:
                rules.append("oifname \(quote(up)) ip saddr @\(NftNames.devices(.v4)) masquerade")
                rules.append("oifname \(quote(up)) ip6 saddr @\(NftNames.devices(.v6)) masquerade")
            case .snat(let a):
                let fam = a.family == .v4 ? "ip" : "ip6"
                rules.append("oifname \(quote(up)) \(fam) saddr @\(NftNames.devices(a.family)) snat \(fam) to \(a)")
            }
        }
        for l in config.links where l.snatBackendTraffic {
            let fam = l.innerIpAddress.family == .v4 ? "ip" : "ip6"
            rules.append("oifname \(quote(l.name)) \(fam) daddr \(l.deviceSubnet) \(fam) saddr != \(l.deviceSubnet) snat \(fam) to \(l.innerIpAddress.address)")
        }
        t.declarations.append(.chain(NftChain(NftNames.postrouting, hook: .init(type: "nat", hook: "postrouting", priority: "srcnat"), rules: rules)))
    }

    /// Declares named interval set `name` of the `family` addresses of `prefixes` (others
    /// ignored); returns how many elements it has. Merged here: nft's auto-merge would
    /// load the kernel's whole ruleset first.
    @discardableResult
    static func addressSet(_ name: String, _ family: IPAddress.Family, _ prefixes: [IPPrefix], into t: inout NftTable) -> Int {
        let merged = mergedRanges(prefixes.filter { $0.family == family }.map { ($0.network.address, $0.lastAddress) })
        t.declarations.append(.set(NftSet(name, key: [.address(family)], flags: [.interval],
                                          elements: merged.map { $0.0 == $0.1 ? "\($0.0)" : "\($0.0)-\($0.1)" })))
        return merged.count
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
    static func mssClamp(_ config: GatePeerConfig, mtus: [String: Int], into t: inout NftTable) {
        var siteRules: [String] = []
        for (i, site) in (config.ipsec?.sites ?? []).enumerated() {
            let remote = site.remote.subnets.filter { site.mode == .policy || $0.length > 0 }
            for (family, keyword) in [(IPAddress.Family.v4, "ip"), (.v6, "ip6")] where remote.contains(where: { $0.family == family }) {
                let name = NftNames.ipsecRemote(site: i, family: family)
                addressSet(name, family, remote, into: &t)
                for dir in ["daddr", "saddr"] {
                    siteRules.append("\(keyword) \(dir) @\(name) tcp flags & (syn | rst) == syn tcp option maxseg size set \(site.effectiveMSS)")
                }
            }
        }
        var rules: [String] = []
        // Out of a tunnel: also the tunnel's own MTU, or the far end's full-size segments
        // would not fit back through it (the kernel only lowers an MSS, nft_exthdr.c
        // refuses an increase: the rules below leave the smallest, no `> N` guard needed).
        for l in config.links {
            guard let mtu = mtus[l.name] ?? l.mtu else { continue }
            rules.append("iifname \(quote(l.name)) meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size set \(mtu - 40)")
            rules.append("iifname \(quote(l.name)) meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size set \(mtu - 60)")
        }
        rules += siteRules
        // Every forwarded SYN and SYN/ACK, whichever interface it leaves by (a tunnel, the
        // uplink, a PPPoE/WireGuard/TUN device, an IPsec SA): what its route carries.
        // Senders whose ICMP "fragmentation needed" is lost on the way never learn a
        // narrower path. `rt mtu` is the smaller of the MTU of the route out and of the
        // route back to the source, less the IP and TCP headers (nft_rt.c); for IPsec,
        // ip_forward has swapped in the xfrm bundle before this hook, so its MTU counts
        // the ESP overhead.
        rules.append("tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu")
        t.declarations.append(.chain(NftChain(NftNames.mssClamp, hook: .init(hook: "forward", priority: "mangle"), rules: rules)))
    }

    /// The ruleset from the table: fingerprints of its text (fs_) and of text and maps
    /// (fp_), declared last as counter names.
    static func finish(_ table: NftTable, maps: [IntervalMap], compiled: [CompiledPolicy], elements: Int) -> NftRuleset {
        var t = table
        let body = t.text(leading: [:]).dropLast(2)  // without "}\n"
        // The skeleton hash covers the text up to its last declaration, newline excluded.
        var h = fnv1a64(body.utf8.dropLast())
        let skeleton = hex(h)
        for m in maps { m.digest(into: &h) }
        let fp = hex(h)
        t.declarations += [.counter(NftNames.Metadata.skeleton.counter(skeleton)), .counter(NftNames.Metadata.fingerprint.counter(fp))]
        var text = String(body)
        for d in t.declarations.suffix(2) { d.write(to: &text, leading: [:]) }
        text += "}\n"
        return NftRuleset(table: t, text: text, maps: maps, fingerprint: fp, skeletonFingerprint: skeleton, compiled: compiled, elementCount: elements)
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
    static func vxlanGuard(_ config: GatePeerConfig, live: [LiveTunnel] = [], into t: inout NftTable) {
        var rules: [String] = []
        for (i, l) in config.links.enumerated() {
            var peers: [IPAddress] = []
            for p in l.peers.map(\.outerIpAddress) where p.family == l.outerIpAddress.family && !peers.contains(p) { peers.append(p) }
            let peerSet = NftNames.vxlanPeers(link: i), deviceSet = NftNames.vxlanDevices(link: i), drop = NftNames.guardCounter(link: i)
            t.declarations.append(.set(NftSet(peerSet, key: [.address(l.outerIpAddress.family)], elements: peers.map(\.description))))
            t.declarations.append(.counter(drop))
            // What the config says, then what the kernel's device still runs where it differs.
            var tunnels = [LiveTunnel(link: i, port: l.port, vni: l.vxlanId, family: l.outerIpAddress.family, underlay: l.underlayDevice)]
            for lt in live where lt.link == i && !tunnels.contains(lt) { tunnels.append(lt) }
            var devices: [String] = []
            for lt in tunnels where !devices.contains(lt.underlay) { devices.append(lt.underlay) }
            t.declarations.append(.set(NftSet(deviceSet, key: [.ifname], elements: devices.map(quote))))
            t.declarations.append(.chain(NftChain(drop, rules: [
                "limit rate 10/second burst 20 packets log prefix \(quote("gatepeer-vxlan \(l.name): ")) level info",
                "counter name \(quote(drop)) drop",
            ])))
            for lt in tunnels {
                let ip = lt.family == .v4 ? "ip" : "ip6"
                let match = "udp dport \(lt.port) @th,96,24 \(lt.vni)"
                rules.append("\(match) iifname != @\(deviceSet) goto \(drop)")
                rules.append("\(match) \(ip) saddr != @\(peerSet) goto \(drop)")
            }
        }
        t.declarations.append(.chain(NftChain(NftNames.vxlanGuard, hook: .init(hook: "input", priority: "filter"), rules: rules)))
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

extension NftNames.KeyShape {
    /// The key's types after the address(es).
    var tail: [NftDataType] {
        switch self {
        case .ports: return [.proto, .service]
        case .proto: return [.proto]
        case .address: return []
        }
    }

    /// What a rule matches after the address(es), in the key's order.
    var match: String {
        switch self {
        case .ports: return " . meta l4proto . th dport"
        case .proto: return " . meta l4proto"
        case .address: return ""
        }
    }
}
