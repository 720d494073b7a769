/// The `filter` section: what devices may reach beyond the backends, how their traffic
/// leaves (NAT), MSS clamping, and which backends may open connections to devices.
/// Rendered into one nftables table owned by gatepeer (see NftRenderer).
public struct FilterConfig: Equatable, Sendable {
    /// The interface devices' internet traffic leaves through (NAT is applied there).
    public var uplinkDevice: String?
    /// How devices' traffic to the internet is translated on `uplinkDevice` (default masquerade).
    public var nat: NATMode
    /// Clamp the MSS of every forwarded TCP SYN and SYN/ACK to what its route carries
    /// (`rt mtu`), and of those out of a tunnel also to the tunnel MTU (docs/filter.md).
    public var mssClamp: Bool
    /// Log dropped packets (rate-limited) with the prefix "gatepeer-drop".
    public var logDrops: Bool
    /// Backends: always reachable by devices, and (by default) allowed to reach them.
    public var backendPrefixes: [IPPrefix]
    /// Who may open connections toward devices. nil: every backend prefix, anything.
    public var inbound: [InboundRule]?
    /// Device groups and their rules; one group `default` (deny) when the config has none.
    public var outbound: [OutboundGroup]
    /// DNS servers asked for the names of domain rules and by the DNS forwarder.
    public var resolvers: [IPAddress]
    /// Learned addresses stay at least TTL + this many seconds.
    public var domainSlackSeconds: Int
    /// At most this many addresses are learned per domain name (1...1024, default 16).
    public var maxAddressesPerName: Int
    /// Serve DNS on the links' inner addresses and learn from the answers (wildcard
    /// rules need it). nil: on when a rule names a domain.
    public var dnsForwarder: Bool?

    /// Whether the daemon serves DNS to devices: `dnsForwarder`, else whether any rule names a domain.
    public var runsDNSForwarder: Bool { dnsForwarder ?? !domainPatterns.isEmpty }

    /// The outbound groups compiled, once, by the decoder (which must compile them anyway
    /// to find ties); nil for a FilterConfig built by hand, which the renderer compiles.
    public var compiled: [CompiledPolicy]?

    /// A filter built by hand (tests, tools); the defaults are the config's. `compiled` stays
    /// nil: the renderer compiles the groups itself.
    public init(uplinkDevice: String? = nil, nat: NATMode = .masquerade, mssClamp: Bool = true, logDrops: Bool = true,
                backendPrefixes: [IPPrefix] = [], inbound: [InboundRule]? = nil, outbound: [OutboundGroup] = [],
                resolvers: [IPAddress] = [], domainSlackSeconds: Int = 300, maxAddressesPerName: Int = 16) {
        self.uplinkDevice = uplinkDevice
        self.nat = nat
        self.mssClamp = mssClamp
        self.logDrops = logDrops
        self.backendPrefixes = backendPrefixes
        self.inbound = inbound
        self.outbound = outbound
        self.resolvers = resolvers
        self.domainSlackSeconds = domainSlackSeconds
        self.maxAddressesPerName = maxAddressesPerName
    }
}

extension FilterConfig {
    /// Exact names gatepeer resolves itself; wildcard patterns are learned from answers
    /// that pass through its DNS forwarder.
    public var exactDomainNames: [String] {
        var out: [String] = []
        for g in outbound {
            for r in g.rules {
                if case .domain(let p) = r.destination, !p.wildcard, !out.contains(p.name) { out.append(p.name) }
            }
        }
        return out
    }

    /// Every domain pattern of the outbound rules, exact and wildcard, in rule order
    /// (duplicates kept): what the DNS forwarder watches answers for.
    public var domainPatterns: [DomainPattern] {
        outbound.flatMap(\.rules).compactMap { if case .domain(let p) = $0.destination { return p } else { return nil } }
    }
}
