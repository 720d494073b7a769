/// The question of a DNS query as a forwarder sees it: enough to relay the query, match
/// the answer, and answer SERVFAIL when no upstream server replies.
public struct DNSQuery: Equatable, Sendable {
    /// The query's message ID (RFC 1035 4.1.1), copied into the answer.
    public let id: UInt16
    /// Lowercased, without the trailing dot.
    public let name: String
    /// QTYPE: 1 A, 28 AAAA, 5 CNAME, ... (RFC 1035 3.2.2, RFC 3596).
    public let type: UInt16
    /// Offset just past the question (header + name + type + class).
    let questionEnd: Int
    /// Bytes the client takes in a UDP answer: the payload size of its EDNS OPT record
    /// (RFC 6891 6.2.5: at least 512, here at most 4096, what the forwarder sends), else
    /// 512 (RFC 1035 4.2.1).
    public var udpLimit: Int = 512

    /// Parses a query: QR clear, exactly one question, plain labels (queries carry no
    /// compression pointers). Anything else is nil and gets no answer.
    public static func parse(_ bytes: [UInt8]) -> DNSQuery? {
        guard bytes.count >= 17, bytes[2] & 0x80 == 0, bytes[4] == 0, bytes[5] == 1 else { return nil }
        var i = 12
        var labels: [String] = []
        var total = 0
        while true {
            guard i < bytes.count else { return nil }
            let len = Int(bytes[i])
            i += 1
            if len == 0 { break }
            guard len <= 63, i + len <= bytes.count else { return nil }
            total += len + 1
            guard total <= 255 else { return nil }
            labels.append(String(decoding: bytes[i..<i + len].map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self))
            i += len
        }
        guard i + 4 <= bytes.count else { return nil }
        let type = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
        var q = DNSQuery(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), name: labels.joined(separator: "."), type: type, questionEnd: i + 4)
        // The OPT record: the one additional record a query carries, with the root name.
        func count(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        if count(6) == 0, count(8) == 0, count(10) >= 1, q.questionEnd + 11 <= bytes.count,
           bytes[q.questionEnd] == 0, bytes[q.questionEnd + 1] == 0, bytes[q.questionEnd + 2] == 41 {
            let size = Int(bytes[q.questionEnd + 3]) << 8 | Int(bytes[q.questionEnd + 4])
            q.udpLimit = min(max(size, 512), 4096)
        }
        return q
    }

    /// A SERVFAIL answer to `query` (its header and question, no records).
    public static func servfail(_ query: [UInt8], _ q: DNSQuery) -> [UInt8] {
        var out = Array(query[0..<q.questionEnd])
        out[2] = 0x80 | (query[2] & 0x79)  // QR, keep opcode and RD
        out[3] = 0x80 | 0x02                 // RA, RCODE 2
        for k in 6..<12 { out[k] = 0 }       // no answer, authority or additional records
        return out
    }
}
