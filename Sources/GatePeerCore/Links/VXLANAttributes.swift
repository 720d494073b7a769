public struct VXLANAttributes: Equatable, Sendable {
    public var id: UInt32
    public var port: UInt16
    public var portRange: PortRange
    public var local: IPAddress?
    public var underlayIndex: Int32?
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
