/// One VXLAN link to a VPG: the device on this VM, the VPG's gate peers it floods to,
/// our address in the device subnet, and routes to LANs behind devices.
public struct VPGLink: Equatable, Sendable {
    /// The vxlan device's name (1-15 characters of A-Z a-z 0-9 _ - .).
    public var name: String
    /// VNI (VXLAN network identifier, 24 bits: 1...16,777,215), the VPG's.
    public var vxlanId: UInt32
    /// UDP destination port of the encapsulated packets (IANA 4789).
    public var port: UInt16
    /// UDP source ports, inclusive (`kernelHalfOpen` is what IFLA_VXLAN_PORT_RANGE holds).
    public var sourcePortRange: PortRange
    /// The NIC the encapsulated packets leave through (IFLA_VXLAN_LINK).
    public var underlayDevice: String
    /// Our underlay address: the source of the encapsulated packets (IFLA_VXLAN_LOCAL/LOCAL6).
    public var outerIpAddress: IPAddress
    /// Our address in the device subnet, with the subnet's length (e.g. 10.255.255.254/9).
    public var innerIpAddress: IPPrefix
    /// The VPG's gate peers, each an all-zeros FDB entry (flooded BUM traffic goes to all).
    public var peers: [GatePeer]
    /// nil: underlay MTU minus the VXLAN overhead for the outer family.
    public var mtu: Int?
    /// Whether the kernel learns device MACs from received packets (IFLA_VXLAN_LEARNING).
    public var learning: Bool
    /// The device's MAC; derived from the name when the config gives none, so it is stable.
    public var mac: MACAddress
    /// LANs behind devices, routed via the device's inner address (route protocol 201).
    public var routes: [LANRoute]
    /// SNAT backend traffic toward devices to innerIpAddress, so replies return through
    /// this peer even when the VPG has no route back to the backends.
    public var snatBackendTraffic: Bool = false
    /// How `gatepeer run` probes the gate peers (the link's `liveness` object).
    public var liveness: LivenessSettings = .default

    /// The subnet the devices and we share inside the tunnel.
    public var deviceSubnet: IPPrefix { innerIpAddress.network }

    /// VXLAN encapsulation overhead: outer IP + UDP + VXLAN header + inner Ethernet.
    public var overhead: Int { outerIpAddress.family == .v4 ? 50 : 70 }

    /// A link as the decoder builds it, defaults as in the config; no check here.
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

    /// The VNI when the config gives none.
    public static let defaultVxlanId: UInt32 = 10
    /// IANA's VXLAN port (RFC 7348), the port when the config gives none.
    public static let defaultPort: UInt16 = 4789
}
