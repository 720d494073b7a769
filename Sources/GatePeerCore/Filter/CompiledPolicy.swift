/// Compiles an outbound group into the shapes nftables looks up in constant-ish time.
///
/// Semantics (the vendor's, extended): among the rules that match a packet, the one with
/// the most specific destination prefix wins; at the same prefix a specific protocol
/// beats `any`, and a specific port beats any port (a narrower range beats a wider one).
/// If no rule matches, the group's default decides. Two rules that tie exactly with
/// different actions are a configuration error.
///
/// nftables interval maps cannot hold nested prefixes, so the address space is cut into
/// disjoint intervals, each labelled with its decision: a plain verdict when the most
/// specific prefix covering it has a rule for any protocol and nothing narrower, or a
/// "bundle" (a short chain: port map, protocol map, then the fallback) otherwise.
/// Lookup cost is one interval-map lookup plus at most a few maps per nesting level,
/// whatever the number of rules.
public struct CompiledPolicy: Equatable, Sendable {
    /// Who decided: a rule index into the group's rules, or nil for the group default.
    public struct Outcome: Hashable, Sendable {
        /// The action of the deciding rule, or the group default's.
        public let action: FilterAction
        /// Index into the group's `rules`; nil when the group default decided.
        public let rule: Int?
    }

    /// What an interval of the address space maps to: a decision, or a bundle to consult
    /// (an index into `bundles`) when ports or protocols decide below that prefix.
    public enum Target: Hashable, Sendable {
        case outcome(Outcome)
        case bundle(Int)
    }

    /// One element of a destination map: the closed address range `low`...`high` (same
    /// family) and what it maps to.
    public struct Interval: Equatable, Sendable {
        /// First address of the range (inclusive).
        public let low: IPAddress
        /// Last address of the range (inclusive).
        public let high: IPAddress
        /// The decision for every address in the range.
        public let target: Target
    }

    /// One nesting level of a bundle: port rules (disjoint per protocol), then protocol rules.
    public struct Level: Hashable, Sendable {
        /// Port ranges per protocol, disjoint within one protocol, most specific rule per port.
        public var portRules: [PortRule]
        /// Rules that name a protocol but no port; checked after the port rules.
        public var protocolRules: [ProtocolRule]
    }

    /// A protocol and port range (inclusive) and the decision for it.
    public struct PortRule: Hashable, Sendable {
        /// IP protocol number (6 tcp, 17 udp; IANA protocol numbers).
        public let proto: UInt8
        /// Destination ports, inclusive.
        public let ports: PortRange
        /// The decision for a packet that matches.
        public let outcome: Outcome
    }

    /// A protocol, any port, and the decision for it.
    public struct ProtocolRule: Hashable, Sendable {
        /// IP protocol number (IANA).
        public let proto: UInt8
        /// The decision for a packet of that protocol.
        public let outcome: Outcome
    }

    /// A bundle: its levels, innermost prefix first, as indexes into `levels`.
    public struct Bundle: Hashable, Sendable {
        /// Indexes into `CompiledPolicy.levels`, innermost prefix first.
        public var levels: [Int]
        /// What decides when no level matches: an any-protocol rule or the group default.
        public var fallback: Outcome
    }

    /// IPv4 intervals: sorted, disjoint, covering 0.0.0.0 to 255.255.255.255.
    public var v4: [Interval]
    /// IPv6 intervals: sorted, disjoint, covering :: to ffff:...:ffff.
    public var v6: [Interval]
    /// The bundles `Target.bundle` indexes; one chain `g<N>_b<K>` each (NftNames.bundleChain).
    public var bundles: [Bundle]
    /// The distinct levels the bundles use, each once: every address inside a prefix
    /// inherits that prefix's level, so one /8 with 2,000 ports under 5,000 nested hosts
    /// is one level referenced 5,000 times (rendered as one port map, not 5,000 copies).
    public var levels: [Level]
    /// Rules by domain, resolved at run time; they are checked before prefixes, since a
    /// learned address is a host (/32, /128), the most specific prefix there is.
    public var domainRules: [Int]

    /// The decision for one packet, computed from the same structures nftables holds.
    public func evaluate(destination: IPAddress, proto: UInt8?, port: UInt16?) -> Outcome {
        let table = destination.family == .v4 ? v4 : v6
        var lo = 0, hi = table.count - 1
        var found: Interval? = nil
        while lo <= hi {
            let mid = (lo + hi) / 2
            if table[mid].high < destination { lo = mid + 1 } else if table[mid].low > destination { hi = mid - 1 } else { found = table[mid]; break }
        }
        guard let interval = found else { preconditionFailure("intervals cover the whole address space") }
        switch interval.target {
        case .outcome(let o): return o
        case .bundle(let b):
            let bundle = bundles[b]
            for id in bundle.levels {
                let level = levels[id]
                if let proto, let port, let r = level.portRules.first(where: { $0.proto == proto && $0.ports.low <= port && port <= $0.ports.high }) {
                    return r.outcome
                }
                if let proto, let r = level.protocolRules.first(where: { $0.proto == proto }) { return r.outcome }
            }
            return bundle.fallback
        }
    }
}
