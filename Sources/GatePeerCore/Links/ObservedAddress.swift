/// One interface address (RTM_NEWADDR dump: ifa_index, IFA_ADDRESS/IFA_LOCAL with ifa_prefixlen).
public struct ObservedAddress: Equatable, Sendable {
    /// ifindex of the interface holding it.
    public var linkIndex: Int32
    /// The address with its prefix length, as configured (host bits kept).
    public var prefix: IPPrefix
    /// When the address was added, seconds since boot (IFA_CACHEINFO's cstamp, kept in
    /// hundredths of a second by the kernel: CLOCK_MONOTONIC's scale); nil when not sent.
    /// `gatepeer health` reads how long an HA node has held its moving address.
    public var createdSeconds: Double?
    /// An address as the kernel layer decodes it.
    public init(linkIndex: Int32, prefix: IPPrefix, createdSeconds: Double? = nil) {
        self.linkIndex = linkIndex
        self.prefix = prefix
        self.createdSeconds = createdSeconds
    }
}
