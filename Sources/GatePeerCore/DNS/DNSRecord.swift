public struct DNSRecord: Equatable, Sendable {
    public let address: IPAddress
    /// Seconds; after following CNAMEs, the minimum TTL along the chain.
    public let ttl: UInt32

    public init(address: IPAddress, ttl: UInt32) { self.address = address; self.ttl = ttl }
}
