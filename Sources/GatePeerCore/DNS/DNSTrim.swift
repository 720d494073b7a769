/// What the DNS forwarder may tell a device about one name that domain rules cover: the
/// addresses the filter holds for it (LearnedAddresses.trim), for DNSMessage.relay.
public struct DNSTrim: Equatable, Sendable {
    /// Address to the longest TTL (seconds) a device may be given for it: less than the
    /// time the filter keeps it.
    public var keep: [IPAddress: UInt32]
    /// Told when the filter keeps none of the addresses of an answer (the name's cap is
    /// full): the name's kept addresses whose TTL has not run out, with what is left of it.
    public var instead: [DNSRecord]

    /// A trim as LearnedAddresses.trim builds it.
    public init(keep: [IPAddress: UInt32], instead: [DNSRecord]) { self.keep = keep; self.instead = instead }
}
