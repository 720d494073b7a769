/// The `filter` section: what devices may reach beyond the backends, how their traffic
/// leaves (NAT), MSS clamping, and which backends may open connections to devices.
/// Rendered into one nftables table owned by gatepeer (see NftRenderer).
public struct FilterConfig: Equatable, Sendable {
    /// The interface devices' internet traffic leaves through (NAT is applied there).
    public var uplinkDevice: String?
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
    public var outbound: [OutboundGroup]
    public var resolvers: [IPAddress]
    /// Learned addresses stay at least TTL + this many seconds.
    public var domainSlackSeconds: Int
    public var maxAddressesPerName: Int
    /// Serve DNS on the links' inner addresses and learn from the answers (wildcard
    /// rules need it). nil: on when a rule names a domain.
    public var dnsForwarder: Bool?

    public var runsDNSForwarder: Bool { dnsForwarder ?? !domainPatterns.isEmpty }

    /// The outbound groups compiled, once, by the decoder (which must compile them anyway
    /// to find ties); nil for a FilterConfig built by hand, which the renderer compiles.
    public var compiled: [CompiledPolicy]?

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
