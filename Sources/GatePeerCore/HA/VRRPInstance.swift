/// One keepalived `vrrp_instance` gatepeer renders: its name, its virtual router id and
/// the addresses it moves (HAConfig.instances).
public struct VRRPInstance: Equatable, Sendable {
    /// `vrrp_instance NAME`, also what keepalived passes `notify` scripts.
    public var name: String
    /// `virtual_router_id`, 1...255; unique per instance on the interface.
    public var routerId: Int
    /// The virtual addresses with their devices.
    public var addresses: [HAConfig.VirtualAddress]
    /// An instance as HAConfig.instances builds it.
    public init(name: String, routerId: Int, addresses: [HAConfig.VirtualAddress]) {
        self.name = name
        self.routerId = routerId
        self.addresses = addresses
    }
}
