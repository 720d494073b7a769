/// DNS wire format (RFC 1035) for the one thing gatepeer needs: ask a recursive server for
/// the A/AAAA records of one name and read its answer defensively. Pure bytes, no I/O.
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

    /// The upstream `reply` to a device's query `q`, as the forwarder relays it.
    ///
    /// With `trim` (a name that domain rules cover), the answer section's A/AAAA records
    /// keep only addresses in `trim.keep`, each with its TTL capped to what `keep` gives,
    /// so a device is never told an address, or told it for longer, than the filter holds
    /// it; HTTPS/SVCB address hints are cut the same way. When every address of the
    /// queried type is dropped, `trim.instead` is told (owned by the end of the CNAME
    /// chain). Other answer records (CNAMEs) stay, and so
    /// does the EDNS OPT record; authority and other additional records go, as names in
    /// the rewritten message are written without compression into the old one.
    /// A reply that needs no change goes out byte for byte. DNSSEC: when records of an
    /// RRset are cut or replaced, the RRSIGs covering that RRset go and the AD bit is
    /// cleared, so a validating device sees an unsigned answer, not a signature over a
    /// changed RRset (a capped TTL alone keeps both).
    ///
    /// `limit`: the largest message the client takes (`q.udpLimit` over UDP, 65535 over
    /// TCP); a bigger one becomes header, question and OPT with TC set (RFC 2181 9), so
    /// the client asks again over TCP. nil when the reply cannot be read (then the caller
    /// answers SERVFAIL).
    public static func relay(_ reply: [UInt8], query q: DNSQuery, trim: DNSTrim?, limit: Int) -> [UInt8]? {
        typealias Record = (owner: [UInt8], type: UInt16, rrClass: UInt16, ttl: UInt32, data: [UInt8])
        // Names no rule covers go out as the server sent them, whatever they hold.
        if trim == nil && reply.count <= limit { return reply }
        guard reply.count >= 12, reply[4] == 0, reply[5] == 1 else { return nil }
        let truncated = reply[2] & 0x02 != 0
        func count(_ at: Int) -> Int { Int(reply[at]) << 8 | Int(reply[at + 1]) }
        var r = Reader(bytes: reply, offset: 12)
        var answers: [Record] = [], opt: [UInt8]? = nil
        let questionEnd: Int
        do {
            _ = try r.name(); _ = try r.take(4)
            questionEnd = r.offset
        } catch { return nil }
        do {
            for index in 0..<(count(6) + count(8) + count(10)) {
                let start = r.offset
                let owner = try r.name(), type = try r.u16(), rrClass = try r.u16(), ttl = try r.u32()
                let length = Int(try r.u16()), dataStart = r.offset
                var data = Array(try r.take(length))
                if index < count(6) {
                    if type == DNSRecordType.cname.rawValue || type == 39 {  // CNAME, DNAME: a name, maybe compressed
                        var inner = Reader(bytes: reply, offset: dataStart)
                        data = try inner.name()
                    }
                    answers.append((owner, type, rrClass, ttl, data))
                } else if index >= count(6) + count(8), type == 41, owner == [0] {
                    opt = Array(reply[start..<r.offset])
                }
            }
        } catch {
            // A cut (TC) answer keeps what arrived whole; anything else cannot be relayed.
            guard truncated else { return nil }
        }

        var changed = false
        // RRsets whose records were cut or replaced, as owner + type: the upstream's
        // signatures over them no longer verify (a lowered TTL keeps them valid, RFC 4035 5.3.3).
        var altered: Set<[UInt8]> = []
        func rrset(_ owner: [UInt8], _ type: UInt16) -> [UInt8] { owner + [UInt8(type >> 8), UInt8(type & 0xff)] }
        if let trim {
            var kept: [Record] = [], dropped = 0, told = 0
            let isAddress = { (t: UInt16) in t == DNSRecordType.a.rawValue || t == DNSRecordType.aaaa.rawValue }
            for a in answers {
                if a.rrClass == 1, a.type == 64 || a.type == 65, let data = withoutHints(a.data, keep: trim.keep) {
                    kept.append((a.owner, a.type, a.rrClass, a.ttl, data))
                    changed = true
                    altered.insert(rrset(a.owner, a.type))
                    continue
                }
                // Any address record (also in an ANY answer), not only the queried type's.
                guard isAddress(a.type), a.rrClass == 1, let address = IPAddress(bytes: a.data) else { kept.append(a); continue }
                guard let most = trim.keep[address] else {
                    if a.type == q.type { dropped += 1 }
                    changed = true
                    altered.insert(rrset(a.owner, a.type))
                    continue
                }
                if a.ttl > most { changed = true }
                kept.append((a.owner, a.type, a.rrClass, min(a.ttl, most), a.data))
                if a.type == q.type { told += 1 }
            }
            if told == 0 && dropped > 0 {
                // The end of the CNAME chain owns the addresses told instead.
                var owner = encodeName(q.name, lowercased: true)
                for _ in 0...maxCNAMEHops {
                    guard let alias = kept.first(where: { $0.owner == owner && $0.type == DNSRecordType.cname.rawValue }) else { break }
                    owner = alias.data
                }
                for i in trim.instead where i.address.bytes.count == (q.type == DNSRecordType.a.rawValue ? 4 : 16) {
                    kept.append((owner, q.type, 1, i.ttl, i.address.bytes))
                    altered.insert(rrset(owner, q.type))
                }
            }
            // RRSIG (46): its first two data bytes name the type it covers (RFC 4034 3.1).
            answers = kept.filter { !($0.type == 46 && $0.data.count >= 2 && altered.contains(rrset($0.owner, UInt16($0.data[0]) << 8 | UInt16($0.data[1])))) }
        }
        guard changed || reply.count > limit else { return reply }

        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        var out = Array(reply[0..<questionEnd])
        // AD (RFC 4035 3.2.3): what the upstream validated is not what the device is told.
        if !altered.isEmpty { out[3] &= ~0x20 }
        out.replaceSubrange(6..<12, with: u16(answers.count) + u16(0) + u16(opt == nil ? 0 : 1))
        // Whole names already written, for compression pointers to them (RFC 1035 4.1.4).
        var written: [[UInt8]: Int] = [encodeName(q.name, lowercased: true): 12]
        func name(_ n: [UInt8]) {
            if let at = written[n] { out += u16(0xc000 | at); return }
            if out.count < 0x4000 { written[n] = out.count }
            out += n
        }
        for a in answers {
            name(a.owner)
            out += u16(Int(a.type)) + u16(Int(a.rrClass)) + u16(Int(a.ttl >> 16)) + u16(Int(a.ttl & 0xffff))
            if a.type == DNSRecordType.cname.rawValue || a.type == 39 {
                let lengthAt = out.count
                out += [0, 0]
                name(a.data)
                out.replaceSubrange(lengthAt..<lengthAt + 2, with: u16(out.count - lengthAt - 2))
            } else {
                out += u16(a.data.count) + a.data
            }
        }
        if let opt { out += opt }
        guard out.count > limit else { return out }
        // Options are the upstream hop's (RFC 6891 6.1.1): when they would not fit either,
        // the OPT record goes without them (header, question and OPT fit: at most 282 bytes).
        let fitted = opt.map { questionEnd + $0.count <= limit ? $0 : Array($0.prefix(9)) + [0, 0] }
        var cut = Array(reply[0..<questionEnd]) + (fitted ?? [])
        cut[2] |= 0x02  // TC
        cut.replaceSubrange(6..<12, with: u16(0) + u16(0) + u16(opt == nil ? 0 : 1))
        return cut
    }

    /// SVCB/HTTPS record data (RFC 9460 2.2) whose ipv4hint/ipv6hint keep only addresses
    /// in `keep` (a hint left empty goes): a client may connect to a hint before it asks
    /// for A/AAAA. nil when nothing changes or the data cannot be read.
    static func withoutHints(_ data: [UInt8], keep: [IPAddress: UInt32]) -> [UInt8]? {
        var r = Reader(bytes: data, offset: 2)  // after SvcPriority
        guard data.count >= 3, (try? r.name()) != nil else { return nil }  // TargetName, never compressed
        var out = Array(data[0..<r.offset]), changed = false
        while r.offset < data.count {
            guard let key = try? r.u16(), let length = try? r.u16(), let value = try? r.take(Int(length)) else { return nil }
            guard key == 4 || key == 6 else {
                out += [UInt8(key >> 8), UInt8(key & 0xff), UInt8(length >> 8), UInt8(length & 0xff)] + value
                continue
            }
            let size = key == 4 ? 4 : 16
            guard value.count % size == 0 else { return nil }
            var hints: [UInt8] = []
            for at in stride(from: value.startIndex, to: value.endIndex, by: size) {
                let bytes = Array(value[at..<at + size])
                if let address = IPAddress(bytes: bytes), keep[address] != nil { hints += bytes } else { changed = true }
            }
            if !hints.isEmpty { out += [UInt8(key >> 8), UInt8(key & 0xff), UInt8(hints.count >> 8), UInt8(hints.count & 0xff)] + hints }
        }
        return changed ? out : nil
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
