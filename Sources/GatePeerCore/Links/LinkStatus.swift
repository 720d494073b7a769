/// Per-link status read from the kernel, for people (`text`) and scripts (`json`).
public struct LinkStatus: Equatable, Sendable {
    public var name: String
    public var present: Bool
    public var owned: Bool
    public var operState: String
    public var vxlanId: UInt32?
    public var port: UInt16?
    public var sourcePortRange: PortRange?
    public var underlayDevice: String?
    public var outerIpAddress: IPAddress?
    public var mtu: Int?
    public var mac: MACAddress?
    public var learning: Bool?
    public var innerAddresses: [IPPrefix]
    public var peers: [IPAddress]
    public var stats: LinkStats?
    public var routes: [LANRoute]
    /// FDB entries on the device that are not as gatepeer makes them (drifted, or toward
    /// a host that is not a configured peer), as `bridge fdb` shows them with the reason;
    /// the next apply deletes them.
    public var strayFDB: [String] = []
}
