/// One of the VPG's own gate peers (the vendor API's entries with ownedByCustomer false).
public struct GatePeer: Equatable, Sendable {
    /// The gate peer's underlay address: the VXLAN destination (all-zeros FDB entry) we flood to.
    public var outerIpAddress: IPAddress
    /// The gate peer's address in the device subnet; kept for health probes.
    public var innerIpAddress: IPAddress?
    /// A gate peer as the decoder builds it.
    public init(outerIpAddress: IPAddress, innerIpAddress: IPAddress? = nil) {
        self.outerIpAddress = outerIpAddress
        self.innerIpAddress = innerIpAddress
    }
}
