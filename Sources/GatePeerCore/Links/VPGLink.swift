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
