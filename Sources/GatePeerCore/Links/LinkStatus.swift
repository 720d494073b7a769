/// Per-link status read from the kernel, for people (`text`) and scripts (`json`).
public struct LinkStatus: Equatable, Sendable {
    /// The link's name (the config's, or an owned link's).
    public var name: String
    /// The kernel has a device of that name.
    public var present: Bool
    /// Its alias marks it gatepeer's (Ownership.aliasPrefix).
    public var owned: Bool
    /// IFLA_OPERSTATE as `ip link` names it; "absent" when not present.
    public var operState: String
    /// The VNI the kernel holds; nil when absent or not vxlan.
    public var vxlanId: UInt32?
    /// UDP destination port the kernel holds.
    public var port: UInt16?
    /// UDP source port range, inclusive.
    public var sourcePortRange: PortRange?
    /// Name of the underlay device (IFLA_VXLAN_LINK resolved).
    public var underlayDevice: String?
    /// The local (outer) address the kernel holds.
    public var outerIpAddress: IPAddress?
    /// MTU, bytes.
    public var mtu: Int?
    /// The device's MAC.
    public var mac: MACAddress?
    /// Whether the device learns MACs.
    public var learning: Bool?
    /// Addresses on the device, link-local ones left out.
    public var innerAddresses: [IPPrefix]
    /// Gate peers: destinations of the device's all-zeros FDB entries.
    public var peers: [IPAddress]
    /// Interface counters.
    public var stats: LinkStats?
    /// Our routes (protocol 201) out through this device, sorted by destination.
    public var routes: [LANRoute]
    /// FDB entries on the device that are not as gatepeer makes them (drifted, or toward
    /// a host that is not a configured peer), as `bridge fdb` shows them with the reason;
    /// the next apply deletes them.
    public var strayFDB: [String] = []
}
