/// The declarative config, after decoding and validation. Field names follow the
/// vendor's vocabulary (vxlanId, outerIpAddress, innerIpAddress) where it has one.
public struct GatePeerConfig: Equatable, Sendable {
    /// Turn on IPv4 (and, when any link carries IPv6, IPv6) forwarding in the namespace.
    public var forwarding: Bool
    /// The VXLAN links, one per VPG; names, VNI/port pairs and device subnets are unique.
    public var links: [VPGLink]
    /// nil: gatepeer keeps no nftables table (and removes its table if one is there).
    public var filter: FilterConfig?
    /// IPsec site-to-site links (rendered and applied by `gatepeer ipsec`).
    public var ipsec: IPsecConfig?
    /// Where `gatepeer run` writes its metrics textfile (top-level `metrics.textfile`).
    public var metricsTextfile: MetricsTextfile = .automatic
    /// High availability with keepalived (the `ha` section, docs/ha.md); nil: one VM.
    /// With it the planner leaves the addresses keepalived moves to keepalived, and
    /// allows the standby state (the outer address not on the underlay).
    public var ha: HAConfig? = nil

    /// A config as the decoder builds it, or by hand (tests); no check here.
    public init(forwarding: Bool = true, links: [VPGLink], filter: FilterConfig? = nil, ipsec: IPsecConfig? = nil) {
        self.forwarding = forwarding
        self.links = links
        self.filter = filter
        self.ipsec = ipsec
    }
}
