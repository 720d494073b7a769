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
        public let action: FilterAction
        public let rule: Int?
    }

    public enum Target: Hashable, Sendable {
        case outcome(Outcome)
        case bundle(Int)
    }

    public struct Interval: Equatable, Sendable {
        public let low: IPAddress
        public let high: IPAddress
        public let target: Target
    }

    /// One nesting level of a bundle: port rules (disjoint per protocol), then protocol rules.
    public struct Level: Hashable, Sendable {
        public var portRules: [PortRule]
        public var protocolRules: [ProtocolRule]
    }

    public struct PortRule: Hashable, Sendable {
        public let proto: UInt8
        public let ports: PortRange
        public let outcome: Outcome
    }

    public struct ProtocolRule: Hashable, Sendable {
        public let proto: UInt8
        public let outcome: Outcome
    }

    /// A bundle: its levels, innermost prefix first, as indexes into `levels`.
    public struct Bundle: Hashable, Sendable {
        public var levels: [Int]
        /// What decides when no level matches: an any-protocol rule or the group default.
        public var fallback: Outcome
    }

    public var v4: [Interval]
    public var v6: [Interval]
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
