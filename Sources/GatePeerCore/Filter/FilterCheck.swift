/// `gatepeer filter check SRC DST [PROTO[/PORT]]`: the verdict for one packet and the
/// rule that decides it, computed from the same compiled policy the kernel holds and in
/// the order the table's chains apply (see NftRenderer).
public enum FilterCheck {
    /// The answer for one packet: allowed or not, and what decided.
    public struct Verdict: Equatable, Sendable {
        /// True when the packet would be accepted (forwarded), false when dropped.
        public let allowed: Bool
        /// What decided, by name: the config path of the deciding rule
        /// (`filter.outbound[0].rules[3]`, `filter.outbound[0].default`, `filter.inbound[1]`,
        /// `filter.backendPrefixes[0]`), or, where no single rule decides, `grant`,
        /// `tunnel-to-tunnel`, `inbound` (no inbound rule matched), `sources` (the device
        /// is in no group), `filter` (no filter section).
        public let decidedBy: String
        /// Where the decision comes from, as a config path plus the rule in words.
        public let reason: String
    }

    /// Why a PROTO[/PORT] argument is refused: `badProtocol` carries the text as given.
    public enum ParseError: Error, Equatable { case badProtocol(String) }

    /// "tcp/443", "udp", "icmp", "6/443", "any"; "tcp/" (no port after the slash) is not.
    public static func parseProtocol(_ s: String) -> Result<(UInt8?, UInt16?), ParseError> {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var proto: UInt8? = nil
        switch ProtocolMatch.parse(parts[0]) {
        case nil: return .failure(.badProtocol(s))
        case .any?: break
        case .number(let n)?: proto = n
        }
        var port: UInt16? = nil
        if parts.count == 2 {
            guard let p = DecimalText.parse(parts[1], in: 1...65535).map(UInt16.init), let pr = proto, ProtocolMatch.number(pr).carriesPorts else { return .failure(.badProtocol(s)) }
            port = p
        }
        return .success((proto, port))
    }

    /// The verdict for one packet from `source` to `destination` (`proto`: IP protocol
    /// number, nil for any; `port`: destination port, only with a protocol that carries
    /// ports), in the order the table applies: tunnel to tunnel, inbound, backends, grants,
    /// then the device's group (most specific source): learned addresses of domain rules
    /// (deny wins on one key), then the compiled prefix rules, then the group default.
    /// `learned` and `grants` are the daemon's state files as read; `now` is seconds since
    /// the epoch, against which their expiries are compared.
    public static func check(_ config: GatePeerConfig, source: IPAddress, destination: IPAddress,
                             proto: UInt8?, port: UInt16?, learned: LearnedAddresses = LearnedAddresses(),
                             grants: [Grant] = [], now: Int64 = 0) -> Verdict {
        let learned = learned.byRule(config, now: now)
        guard let f = config.filter else {
            return Verdict(allowed: true, decidedBy: "filter", reason: "no filter section: gatepeer keeps no table, forwarding is not filtered")
        }
        let tunnels = config.links
        let intoTunnel = tunnels.contains { $0.deviceSubnet.contains(destination) || $0.routes.contains { $0.destination.contains(destination) } }
        let fromTunnel = tunnels.contains { $0.deviceSubnet.contains(source) || $0.routes.contains { $0.destination.contains(source) } }
        if intoTunnel && fromTunnel {
            return Verdict(allowed: true, decidedBy: "tunnel-to-tunnel", reason: "tunnel to tunnel: accepted (chain outbound)")
        }
        if intoTunnel {
            let rules = f.inbound ?? f.backendPrefixes.map { InboundRule(from: $0) }
            for (i, r) in rules.enumerated() where r.from.contains(source) {
                if case .number(let n) = r.protocolMatch, n != proto { continue }
                if !r.ports.isEmpty {
                    guard let port, r.ports.contains(where: { $0.low <= port && port <= $0.high }) else { continue }
                }
                let path = f.inbound == nil ? "filter.backendPrefixes[\(i)]" : "filter.inbound[\(i)]"
                return Verdict(allowed: true, decidedBy: path, reason: "\(path): \(r.from) may open connections to devices")
            }
            return Verdict(allowed: false, decidedBy: "inbound", reason: "inbound: no rule lets \(source) open this connection (dropped, counted in in_drop)")
        }
        if let i = f.backendPrefixes.firstIndex(where: { $0.contains(destination) }) {
            let path = "filter.backendPrefixes[\(i)]"
            return Verdict(allowed: true, decidedBy: path, reason: "\(path): \(f.backendPrefixes[i]) is a backend, always reachable")
        }
        if let g = grants.first(where: { $0.covers(source: source, destination: destination, proto: proto, port: port, now: now) }) {
            return Verdict(allowed: true, decidedBy: "grant", reason: "grant \(g.summary), expires in \(Grant.formatDuration(g.expires - now))")
        }
        // The group whose source prefix is most specific for this device.
        var best: (group: Int, length: Int)? = nil
        for (gi, g) in f.outbound.enumerated() {
            for s in g.sources where s.contains(source) && s.length > (best?.length ?? -1) { best = (gi, s.length) }
        }
        guard let gi = best?.group else {
            return Verdict(allowed: false, decidedBy: "sources", reason: "\(source) is in no outbound group's sources (denied)")
        }
        let group = f.outbound[gi]
        // Domain rules: a learned address is a host, more specific than any prefix rule.
        // As in chain g<N>: the port map, then the protocol map, then the any map; on one
        // key deny wins (LearnedAddresses.nftElements).
        for pass in 0..<3 {
            var hit: Int? = nil
            for k in group.rules.indices {
                let r = group.rules[k]
                guard case .domain = r.destination, learned[gi]?[k]?.contains(destination) ?? false else { continue }
                let kind = r.protocolMatch == .any ? 2 : (r.ports.isEmpty ? 1 : 0)
                guard kind == pass else { continue }
                if case .number(let n) = r.protocolMatch, n != proto { continue }
                if !r.ports.isEmpty {
                    guard let port, r.ports.contains(where: { $0.low <= port && port <= $0.high }) else { continue }
                }
                if hit == nil || (r.action == .deny && group.rules[hit!].action == .allow) { hit = k }
            }
            if let k = hit {
                let path = "filter.outbound[\(gi)].rules[\(k)]"
                return Verdict(allowed: group.rules[k].action == .allow, decidedBy: path, reason: "\(path) (group \"\(group.name)\"): \(group.rules[k].summary), learned address")
            }
        }
        // The decoder's compilation when there is one: the very structure the table is rendered from.
        let compiled: CompiledPolicy
        if let c = f.compiled?[gi] { compiled = c } else if case .success(let c) = PolicyCompiler.compile(group) { compiled = c } else {
            return Verdict(allowed: false, decidedBy: "filter.outbound[\(gi)]", reason: "group \"\(group.name)\" does not compile")
        }
        let o = compiled.evaluate(destination: destination, proto: proto, port: port)
        if let k = o.rule {
            let path = "filter.outbound[\(gi)].rules[\(k)]"
            return Verdict(allowed: o.action == .allow, decidedBy: path, reason: "\(path) (group \"\(group.name)\"): \(group.rules[k].summary)")
        }
        let path = "filter.outbound[\(gi)].default"
        return Verdict(allowed: o.action == .allow, decidedBy: path, reason: "\(path) (group \"\(group.name)\"): \(o.action.rawValue), no rule matches")
    }
}
