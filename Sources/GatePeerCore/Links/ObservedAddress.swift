/// One interface address (RTM_NEWADDR dump: ifa_index, IFA_ADDRESS/IFA_LOCAL with ifa_prefixlen).
public struct ObservedAddress: Equatable, Sendable {
    /// ifindex of the interface holding it.
    public var linkIndex: Int32
    /// The address with its prefix length, as configured (host bits kept).
    public var prefix: IPPrefix
    /// An address as the kernel layer decodes it.
    public init(linkIndex: Int32, prefix: IPPrefix) { self.linkIndex = linkIndex; self.prefix = prefix }
}
