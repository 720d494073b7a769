public struct DNSResponse: Equatable, Sendable {
    public let id: UInt16
    /// 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...
    public let rcode: UInt8
    public let truncated: Bool
    /// Addresses of the queried type for the queried name, CNAMEs in the answer followed.
    public let records: [DNSRecord]
    /// RFC 2308: min(SOA TTL, SOA minimum) from the authority section when `records` is
    /// empty (capped by the CNAME TTLs followed to get there), else nil.
    public let negativeTTL: UInt32?

    public init(id: UInt16, rcode: UInt8, truncated: Bool, records: [DNSRecord], negativeTTL: UInt32?) {
        self.id = id; self.rcode = rcode; self.truncated = truncated
        self.records = records; self.negativeTTL = negativeTTL
    }
}
