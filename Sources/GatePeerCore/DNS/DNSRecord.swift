/// An address record of an answer (A or AAAA) with the TTL it may be kept for.
public struct DNSRecord: Equatable, Sendable {
    /// The A (IPv4) or AAAA (IPv6) address.
    public let address: IPAddress
    /// Seconds; after following CNAMEs, the minimum TTL along the chain.
    public let ttl: UInt32

    /// A record as DNSMessage decodes it.
    public init(address: IPAddress, ttl: UInt32) { self.address = address; self.ttl = ttl }
}
