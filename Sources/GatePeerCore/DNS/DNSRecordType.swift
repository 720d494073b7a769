/// The record types gatepeer asks for or follows (RFC 1035 3.2.2, RFC 3596); raw values
/// are the TYPE numbers on the wire.
public enum DNSRecordType: UInt16, Sendable { case a = 1, cname = 5, aaaa = 28 }
