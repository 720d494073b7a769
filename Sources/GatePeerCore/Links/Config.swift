/// The declarative config, after decoding and validation. Field names follow the
/// vendor's vocabulary (vxlanId, outerIpAddress, innerIpAddress) where it has one.
public struct GatePeerConfig: Equatable, Sendable {
    /// Turn on IPv4 (and, when any link carries IPv6, IPv6) forwarding in the namespace.
    public var forwarding: Bool
    public var links: [VPGLink]
    /// nil: gatepeer keeps no nftables table (and removes its table if one is there).
    public var filter: FilterConfig?
    /// IPsec site-to-site links (rendered and applied by `gatepeer ipsec`).
    public var ipsec: IPsecConfig?

    public init(forwarding: Bool = true, links: [VPGLink], filter: FilterConfig? = nil, ipsec: IPsecConfig? = nil) {
        self.forwarding = forwarding
        self.links = links
        self.filter = filter
        self.ipsec = ipsec
    }
}

/// One VXLAN link to a VPG: the device on this VM, the VPG's gate peers it floods to,
/// our address in the device subnet, and routes to LANs behind devices.
public struct VPGLink: Equatable, Sendable {
    public var name: String
    public var vxlanId: UInt32
    public var port: UInt16
    public var sourcePortRange: PortRange
    public var underlayDevice: String
    public var outerIpAddress: IPAddress
    /// Our address in the device subnet, with the subnet's length (e.g. 10.255.255.254/9).
    public var innerIpAddress: IPPrefix
    public var peers: [GatePeer]
    /// nil: underlay MTU minus the VXLAN overhead for the outer family.
    public var mtu: Int?
    public var learning: Bool
    public var mac: MACAddress
    public var routes: [LANRoute]
    /// SNAT backend traffic toward devices to innerIpAddress, so replies return through
    /// this peer even when the VPG has no route back to the backends.
    public var snatBackendTraffic: Bool = false

    public var deviceSubnet: IPPrefix { innerIpAddress.network }

    /// VXLAN encapsulation overhead: outer IP + UDP + VXLAN header + inner Ethernet.
    public var overhead: Int { outerIpAddress.family == .v4 ? 50 : 70 }

    public init(name: String, vxlanId: UInt32 = VPGLink.defaultVxlanId, port: UInt16 = VPGLink.defaultPort,
                sourcePortRange: PortRange = PortRange(low: VPGLink.defaultPort, high: VPGLink.defaultPort),
                underlayDevice: String, outerIpAddress: IPAddress, innerIpAddress: IPPrefix,
                peers: [GatePeer], mtu: Int? = nil, learning: Bool = true, mac: MACAddress? = nil,
                routes: [LANRoute] = []) {
        self.name = name
        self.vxlanId = vxlanId
        self.port = port
        self.sourcePortRange = sourcePortRange
        self.underlayDevice = underlayDevice
        self.outerIpAddress = outerIpAddress
        self.innerIpAddress = innerIpAddress
        self.peers = peers
        self.mtu = mtu
        self.learning = learning
        self.mac = mac ?? MACAddress.derived(fromLinkName: name)
        self.routes = routes
    }

    public static let defaultVxlanId: UInt32 = 10
    public static let defaultPort: UInt16 = 4789
}

public struct PortRange: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var low: UInt16
    public var high: UInt16
    public init(low: UInt16, high: UInt16) { self.low = low; self.high = high }
    public var description: String { "\(low)-\(high)" }

    /// "443" or "8000-8080": how nft, the CLI and rule summaries write a port range.
    public var portText: String { low == high ? "\(low)" : "\(low)-\(high)" }

    /// Parses "443" or "8000-8080" (1..65535, LOW <= HIGH, each strict decimal as
    /// `DecimalText` reads it); nil otherwise.
    public static func parse(_ s: Substring) -> PortRange? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
              let a = DecimalText.parse(parts[0], in: 1...65535), let b = DecimalText.parse(parts[parts.count - 1], in: 1...65535),
              a <= b else { return nil }
        return PortRange(low: UInt16(a), high: UInt16(b))
    }

    /// The kernel picks VXLAN source ports in [low, high) and, when low == high, falls
    /// back to the ephemeral range: `srcport 4789 4789` (the vendor script) does NOT pin
    /// 4789. Config ranges are inclusive, as people read them (high <= 65534, so high + 1
    /// always fits the 16-bit field); these convert both ways.
    public var kernelHalfOpen: PortRange { PortRange(low: low, high: high + 1) }

    public init(kernelLow: UInt16, kernelHigh: UInt16) {
        self.init(low: kernelLow, high: kernelHigh > kernelLow ? kernelHigh - 1 : kernelHigh)
    }
}

/// One of the VPG's own gate peers (the vendor API's entries with ownedByCustomer false).
public struct GatePeer: Equatable, Sendable {
    public var outerIpAddress: IPAddress
    /// The gate peer's address in the device subnet; kept for health probes.
    public var innerIpAddress: IPAddress?
    public init(outerIpAddress: IPAddress, innerIpAddress: IPAddress? = nil) {
        self.outerIpAddress = outerIpAddress
        self.innerIpAddress = innerIpAddress
    }
}

/// A LAN behind a device: `destination` is reached via the device's address.
public struct LANRoute: Equatable, Hashable, Sendable {
    public var destination: IPPrefix
    public var via: IPAddress
    public init(destination: IPPrefix, via: IPAddress) {
        self.destination = destination
        self.via = via
    }
}

/// Names and numbers that mark what gatepeer owns in the kernel.
public enum Ownership {
    /// Route protocol number for every route we install (declared in
    /// netconfig/rt_protos.d/gatepeer.conf). Numbers >= 4 are free for daemons; 201 is
    /// unused by the well-known ones (bird 12, keepalived 18, babel 42, bgp 186..192).
    public static let routeProtocol: UInt8 = 201
    /// Interface alias prefix: a link is ours only if its alias is `gatepeer:<name>`.
    public static let aliasPrefix = "gatepeer:"
    public static func alias(forLink name: String) -> String { aliasPrefix + name }
}
