/// A VXLAN tunnel the guard covers: config link `link`'s UDP port, VNI, outer family and
/// underlay, as the config says or as the kernel's own device of that link still runs it.
public struct LiveTunnel: Equatable, Sendable {
    /// Index of the link in the config's `links`.
    public var link: Int
    /// UDP destination port the tunnel receives on.
    public var port: UInt16
    /// VXLAN network identifier (24 bits).
    public var vni: UInt32
    /// Family of the outer (underlay) addresses.
    public var family: IPAddress.Family
    /// Name of the underlay device the encapsulated packets arrive on.
    public var underlay: String
    /// Values as documented on the properties.
    public init(link: Int, port: UInt16, vni: UInt32, family: IPAddress.Family, underlay: String) {
        self.link = link; self.port = port; self.vni = vni; self.family = family; self.underlay = underlay
    }
}
