/// One of the VPG's own gate peers (the vendor API's entries with ownedByCustomer false).
public struct GatePeer: Equatable, Sendable {
    public var outerIpAddress: IPAddress
    /// The gate peer's address in the device subnet; kept for health probes.
    public var innerIpAddress: IPAddress?
    public init(outerIpAddress: IPAddress, innerIpAddress: IPAddress? = nil) {
        self.outerIpAddress = outerIpAddress
        self.innerIpAddress = innerIpAddress
    }
}
