/// Everything the kernel needs to hold for one VXLAN link, resolved against the
/// observed underlay (its index and MTU).
public struct LinkSpec: Equatable, Sendable {
    public var name: String
    public var alias: String
    public var vxlanId: UInt32
    public var port: UInt16
    public var portRange: PortRange
    public var underlayName: String
    public var underlayIndex: Int32
    public var local: IPAddress
    public var mtu: Int
    public var mac: MACAddress
    public var learning: Bool
}
