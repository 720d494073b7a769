/// A VXLAN tunnel the guard covers: config link `link`'s UDP port, VNI, outer family and
/// underlay, as the config says or as the kernel's own device of that link still runs it.
public struct LiveTunnel: Equatable, Sendable {
    public var link: Int
    public var port: UInt16
    public var vni: UInt32
    public var family: IPAddress.Family
    public var underlay: String
    public init(link: Int, port: UInt16, vni: UInt32, family: IPAddress.Family, underlay: String) {
        self.link = link; self.port = port; self.vni = vni; self.family = family; self.underlay = underlay
    }
}
