/// One of the VPG's own gate peers (the vendor API's entries with ownedByCustomer false).
public struct GatePeer: Equatable, Sendable {
    /// The gate peer's underlay address: the VXLAN destination (all-zeros FDB entry) we flood to.
    public var outerIpAddress: IPAddress
    /// The gate peer's address in the device subnet; the liveness probes' target unless
    /// `probeAddress` names another.
    public var innerIpAddress: IPAddress?
    /// An address in the device subnet that only this gate peer answers (ARP and ICMP
    /// echo), named by the operator when the VPG gives the peer no inner address.
    public var probeAddress: IPAddress?
    /// A gate peer as the decoder builds it.
    public init(outerIpAddress: IPAddress, innerIpAddress: IPAddress? = nil, probeAddress: IPAddress? = nil) {
        self.outerIpAddress = outerIpAddress
        self.innerIpAddress = innerIpAddress
        self.probeAddress = probeAddress
    }

    /// Where liveness probes go: `probeAddress` when given (the operator chose it), else
    /// `innerIpAddress`; nil when neither is known (the peer's state stays unknown).
    public var probeTarget: IPAddress? { probeAddress ?? innerIpAddress }
}
