/// A recursive server's answer to one of our queries, reduced to what the filter learns.
public struct DNSResponse: Equatable, Sendable {
    /// The message ID (matches the query's).
    public let id: UInt16
    /// 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...
    public let rcode: UInt8
    /// TC: the answer did not fit UDP; ask again over TCP (RFC 7766).
    public let truncated: Bool
    /// Addresses of the queried type for the queried name, CNAMEs in the answer followed.
    public let records: [DNSRecord]
    /// RFC 2308: min(SOA TTL, SOA minimum) from the authority section when `records` is
    /// empty (capped by the CNAME TTLs followed to get there), else nil.
    public let negativeTTL: UInt32?

    /// A response as DNSMessage decodes it.
    public init(id: UInt16, rcode: UInt8, truncated: Bool, records: [DNSRecord], negativeTTL: UInt32?) {
        self.id = id; self.rcode = rcode; self.truncated = truncated
        self.records = records; self.negativeTTL = negativeTTL
    }
}
