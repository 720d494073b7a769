/// A vxlan device's settings as the kernel reports them (IFLA_VXLAN_* in IFLA_INFO_DATA).
public struct VXLANAttributes: Equatable, Sendable {
    /// IFLA_VXLAN_ID: the VNI.
    public var id: UInt32
    /// IFLA_VXLAN_PORT: UDP destination port (sent big-endian; here in host order).
    public var port: UInt16
    /// IFLA_VXLAN_PORT_RANGE converted to an inclusive range (PortRange(kernelLow:kernelHigh:)).
    public var portRange: PortRange
    /// IFLA_VXLAN_LOCAL/LOCAL6: the source address of encapsulated packets; nil when unset.
    public var local: IPAddress?
    /// IFLA_VXLAN_LINK: ifindex of the underlay device; nil when unset.
    public var underlayIndex: Int32?
    /// IFLA_VXLAN_LEARNING.
    public var learning: Bool
    /// IFLA_VXLAN_GROUP/GROUP6: the default remote (unicast or multicast), if any.
    public var group: IPAddress? = nil
    /// The receive-side options the kernel compares when it checks that a VNI is free
    /// (vxlan_vni_in_use: VXLAN_F_RCV_FLAGS): "gbp", "gpe", "external" (collect metadata),
    /// "remcsumrx", "remcsum-nopartial", "udp6zerocsumrx". Sorted; empty for ours.
    public var receiveFlags: [String] = []
    /// IFLA_VXLAN_VNIFILTER: the device carries a list of VNIs instead of one.
    public var vniFilter: Bool = false

    /// Every receive option the kernel compares before two devices share a UDP socket
    /// (VXLAN_F_RCV_FLAGS): `receiveFlags`, plus "vnifilter". Empty for ours.
    public var receiveOptions: [String] { receiveFlags + (vniFilter ? ["vnifilter"] : []) }

    /// Attributes as the kernel layer decodes them (no group, no receive flags).
    public init(id: UInt32, port: UInt16, portRange: PortRange, local: IPAddress?, underlayIndex: Int32?, learning: Bool) {
        self.id = id
        self.port = port
        self.portRange = portRange
        self.local = local
        self.underlayIndex = underlayIndex
        self.learning = learning
    }

    /// The outer family the kernel files the device's socket under: IPv6 when its local or
    /// default remote address is IPv6, else IPv4.
    public var family: IPAddress.Family { (local ?? group)?.family ?? .v4 }
}
