/// An attribute of a live VXLAN link that the planner changes in place (`Plan.AttributeChange`).
/// The rtnetlink codec switches over it exhaustively, so an attribute added here cannot
/// be "applied" without a request that carries it. The raw value is the name the plan
/// prints ("~ link gp0 mtu 1400 -> 1450") and `plan --json` writes.
public enum LinkAttribute: String, CaseIterable, Sendable, CustomStringConvertible {
    /// IFLA_MTU, in bytes.
    case mtu
    /// IFLA_ADDRESS: the device's MAC address.
    case mac
    /// IFLA_IFALIAS: gatepeer's ownership marker.
    case alias
    /// IFLA_VXLAN_LOCAL(6): the outer source address.
    case local
    /// IFLA_VXLAN_LINK: the underlay device.
    case dev
    /// IFLA_VXLAN_LEARNING: whether the device learns FDB entries from traffic.
    case learning

    /// The name as the plan prints it (the raw value).
    public var description: String { rawValue }
}
