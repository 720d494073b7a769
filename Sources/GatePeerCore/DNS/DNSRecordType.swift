public enum DNSRecordType: UInt16, Sendable { case a = 1, cname = 5, aaaa = 28 }
