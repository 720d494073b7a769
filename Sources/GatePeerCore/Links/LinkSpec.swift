/// Everything the kernel needs to hold for one VXLAN link, resolved against the
/// observed underlay (its index and MTU).
public struct LinkSpec: Equatable, Sendable {
    /// Interface name (IFNAMSIZ: at most 15 bytes), as in the config.
    public var name: String
    /// IFLA_IFALIAS the device carries: `gatepeer:` + name (Ownership.alias), the marker
    /// that the device is gatepeer's.
    public var alias: String
    /// VXLAN network identifier (VNI, 24 bits: 0...16777215).
    public var vxlanId: UInt32
    /// UDP destination port of the encapsulated traffic (IFLA_VXLAN_PORT).
    public var port: UInt16
    /// UDP source-port range the kernel picks from per flow (IFLA_VXLAN_PORT_RANGE).
    public var portRange: PortRange
    /// The underlay device the tunnel is bound to (IFLA_VXLAN_LINK), by name.
    public var underlayName: String
    /// That device's ifindex as observed when planning.
    public var underlayIndex: Int32
    /// Outer source address (IFLA_VXLAN_LOCAL/LOCAL6); its family is the outer family.
    public var local: IPAddress
    /// Device MTU in bytes: the config's, or the underlay's minus the VXLAN overhead.
    public var mtu: Int
    /// The device's own MAC address (IFLA_ADDRESS).
    public var mac: MACAddress
    /// IFLA_VXLAN_LEARNING: whether the kernel learns remote MACs from received packets.
    public var learning: Bool
}
