/// A LAN behind a device: `destination` is reached via the device's address.
public struct LANRoute: Equatable, Hashable, Sendable {
    /// The LAN's network prefix (host bits zero).
    public var destination: IPPrefix
    /// The device's address in the link's device subnet: the route's gateway.
    public var via: IPAddress
    /// RTNH_F_ONLINK: the kernel takes `via` as on the link without an address of ours in
    /// its subnet. Set by the planner for configs with `ha` (the standby holds no inner
    /// address); never in a single VM's routes.
    public var onlink: Bool = false
    /// A route as the decoder builds it.
    public init(destination: IPPrefix, via: IPAddress) {
        self.destination = destination
        self.via = via
    }
}
