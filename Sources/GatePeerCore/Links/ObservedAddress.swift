public struct ObservedAddress: Equatable, Sendable {
    public var linkIndex: Int32
    /// The address with its prefix length, as configured (host bits kept).
    public var prefix: IPPrefix
    public init(linkIndex: Int32, prefix: IPPrefix) { self.linkIndex = linkIndex; self.prefix = prefix }
}
