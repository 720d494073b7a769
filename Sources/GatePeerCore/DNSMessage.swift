/// DNS wire format (RFC 1035) for the one thing gatepeer needs: ask a recursive server for
/// the A/AAAA records of one name and read its answer defensively. Pure bytes, no I/O.

public enum DNSRecordType: UInt16, Sendable { case a = 1, cname = 5, aaaa = 28 }

public struct DNSRecord: Equatable, Sendable {
    public let address: IPAddress
    /// Seconds; after following CNAMEs, the minimum TTL along the chain.
    public let ttl: UInt32

    public init(address: IPAddress, ttl: UInt32) { self.address = address; self.ttl = ttl }
}

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

public enum DNSMessageError: Error, Equatable { case malformed(String), idMismatch, questionMismatch, notAResponse }

public enum DNSMessage {
    /// CNAME hops followed inside one answer.
    static let maxCNAMEHops = 8

    /// True when `name` can be sent as is: one or more labels of 1...63 bytes, at most 255
    /// bytes on the wire.
    public static func isValidName(_ name: String) -> Bool {
        var labels = name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.last?.isEmpty == true { labels.removeLast() }  // "example.com." and "."
        return !labels.isEmpty && labels.allSatisfy { (1...63).contains($0.count) }
            && labels.reduce(1) { $0 + 1 + $1.count } <= 255
    }

    /// Wire form of `name`: length-prefixed labels and a zero. Empty labels are dropped and
    /// labels over 63 bytes cut (check `isValidName` first to refuse such names instead).
    static func encodeName(_ name: String, lowercased: Bool) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.utf8.split(separator: UInt8(ascii: ".")) {
            out.append(UInt8(min(label.count, 63)))
            out += label.prefix(63).map { lowercased ? lower($0) : $0 }
        }
        return out + [0]
    }

    static func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5a ? c | 0x20 : c }

    /// A standard query, RD set, one question, class IN. `name` like "api.example.com"
    /// (trailing dot optional).
    public static func query(id: UInt16, name: String, type: DNSRecordType) -> [UInt8] {
        let header: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        return header + encodeName(name, lowercased: false)
            + [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), 0, 1]
    }

    /// Parses a response to exactly that query: QR set, same id, the question echoed (case
    /// insensitively). Compression pointers must point backwards and names stay within 255
    /// bytes, so hostile messages end in `.malformed`, never a loop or an out-of-bounds read.
    /// Records of other classes and types are ignored. A truncated (TC) answer keeps the
    /// records that arrived whole instead of failing on the cut one.
    public static func parseResponse(_ bytes: [UInt8], id: UInt16, name: String, type: DNSRecordType) throws -> DNSResponse {
        guard bytes.count >= 12 else { throw DNSMessageError.malformed("\(bytes.count)-byte message is shorter than a header") }
        var r = Reader(bytes: bytes, offset: 0)
        let gotID = try r.u16(), flags = try r.u16()
        let counts = [try r.u16(), try r.u16(), try r.u16(), try r.u16()].map(Int.init)
        guard flags & 0x8000 != 0 else { throw DNSMessageError.notAResponse }
        guard gotID == id else { throw DNSMessageError.idMismatch }
        let truncated = flags & 0x0200 != 0
        guard counts[0] == 1 else { throw DNSMessageError.questionMismatch }
        let qname = encodeName(name, lowercased: true)
        let echoed = try r.name(), qtype = try r.u16(), qclass = try r.u16()
        guard echoed == qname, qtype == type.rawValue, qclass == 1 else { throw DNSMessageError.questionMismatch }

        var answers: [(owner: [UInt8], type: UInt16, ttl: UInt32, address: IPAddress?, target: [UInt8])] = []
        var soa: (ttl: UInt32, minimum: UInt32)?
        do {
            for index in 0..<(counts[1] + counts[2] + counts[3]) {
                let owner = try r.name(), rrType = try r.u16(), rrClass = try r.u16()
                var ttl = try r.u32()
                if ttl & 0x8000_0000 != 0 { ttl = 0 }  // RFC 2181 §8
                let length = Int(try r.u16()), start = r.offset, end = start + length
                guard end <= bytes.count else { throw DNSMessageError.malformed("record data runs past the end") }
                r.offset = end
                guard rrClass == 1 else { continue }
                if index < counts[1] {
                    switch rrType {
                    case DNSRecordType.a.rawValue, DNSRecordType.aaaa.rawValue:
                        let size = rrType == DNSRecordType.a.rawValue ? 4 : 16
                        guard length == size, let address = IPAddress(bytes: Array(bytes[start..<end])) else {
                            throw DNSMessageError.malformed("type \(rrType) record with \(length) data bytes")
                        }
                        answers.append((owner, rrType, ttl, address, []))
                    case DNSRecordType.cname.rawValue:
                        var inner = Reader(bytes: bytes, offset: start)
                        let target = try inner.name()
                        guard inner.offset == end else { throw DNSMessageError.malformed("CNAME target does not fill its record") }
                        answers.append((owner, rrType, ttl, nil, target))
                    default: continue
                    }
                } else if index < counts[1] + counts[2], rrType == 6, soa == nil {
                    var inner = Reader(bytes: bytes, offset: start)
                    _ = try inner.name(); _ = try inner.name()  // MNAME, RNAME
                    guard inner.offset + 20 == end else { throw DNSMessageError.malformed("SOA record of the wrong size") }
                    inner.offset += 16  // serial, refresh, retry, expire
                    soa = (ttl, try inner.u32())
                }
            }
        } catch DNSMessageError.malformed(_) where truncated {
            // TC: the server cut the message; what parsed whole above is still good.
        }

        var records: [DNSRecord] = []
        var current = qname, chainTTL = UInt32.max
        if type != .cname {
            for _ in 0...maxCNAMEHops {
                for a in answers where a.owner == current && a.type == type.rawValue {
                    if let address = a.address, !records.contains(where: { $0.address == address }) {
                        records.append(DNSRecord(address: address, ttl: min(a.ttl, chainTTL)))
                    }
                }
                guard records.isEmpty, let alias = answers.first(where: {
                    $0.owner == current && $0.type == DNSRecordType.cname.rawValue
                }) else { break }
                chainTTL = min(chainTTL, alias.ttl)
                current = alias.target
            }
        }
        let negativeTTL = records.isEmpty ? soa.map { min($0.ttl, $0.minimum, chainTTL) } : nil
        return DNSResponse(id: gotID, rcode: UInt8(flags & 0x000f), truncated: truncated,
                           records: records, negativeTTL: negativeTTL)
    }

    /// Bounds-checked big-endian reads over a message.
    struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard offset + n <= bytes.count else { throw DNSMessageError.malformed("message ends at byte \(bytes.count) inside a field") }
            defer { offset += n }
            return bytes[offset..<offset + n]
        }

        mutating func u16() throws -> UInt16 { try take(2).reduce(0) { $0 << 8 | UInt16($1) } }
        mutating func u32() throws -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }

        /// A name in lowercased wire form; `offset` moves past it (past the first pointer).
        mutating func name() throws -> [UInt8] {
            var out: [UInt8] = [], pos = offset, resume: Int?, hops = 0
            while true {
                guard pos < bytes.count else { throw DNSMessageError.malformed("name runs past the end") }
                let length = Int(bytes[pos])
                switch length & 0xc0 {
                case 0x00:
                    if length == 0 {
                        offset = resume ?? pos + 1
                        return out + [0]
                    }
                    guard pos + 1 + length <= bytes.count else { throw DNSMessageError.malformed("label runs past the end") }
                    guard out.count + length + 2 <= 255 else { throw DNSMessageError.malformed("name longer than 255 bytes") }
                    out.append(UInt8(length))
                    out += bytes[pos + 1...pos + length].map(DNSMessage.lower)
                    pos += 1 + length
                case 0xc0:
                    guard pos + 1 < bytes.count else { throw DNSMessageError.malformed("name runs past the end") }
                    let target = (length & 0x3f) << 8 | Int(bytes[pos + 1])
                    guard target < pos else { throw DNSMessageError.malformed("compression pointer at \(pos) to \(target) does not point backwards") }
                    hops += 1
                    guard hops <= 64 else { throw DNSMessageError.malformed("too many compression pointers") }
                    if resume == nil { resume = pos + 2 }
                    pos = target
                default:
                    throw DNSMessageError.malformed("unsupported label type \(length >> 6)")
                }
            }
        }
    }
}
