import XCTest
@testable import GatePeerCore

/// Hand-assembled DNS messages: header, question, records; names optionally compressed
/// against every name suffix written before.
struct DNSBuilder {
    enum RData {
        case raw([UInt8])
        case name(String)
        case soa(minimum: UInt32)
    }

    struct RR {
        var name: String
        var type: UInt16
        var cls: UInt16 = 1
        var ttl: UInt32
        var data: RData
    }

    var bytes: [UInt8] = []
    var compress: Bool
    private var suffixes: [String: Int] = [:]

    init(compress: Bool) { self.compress = compress }

    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xff)] }
    mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xffff)) }

    mutating func name(_ text: String) {
        var labels = text.split(separator: ".").map(String.init)
        while !labels.isEmpty {
            let key = labels.joined(separator: ".").lowercased()
            if compress, let at = suffixes[key] {
                u16(0xc000 | UInt16(at))
                return
            }
            if bytes.count < 0x3fff { suffixes[key] = bytes.count }
            bytes.append(UInt8(labels[0].utf8.count))
            bytes += Array(labels[0].utf8)
            labels.removeFirst()
        }
        bytes.append(0)
    }

    mutating func record(_ rr: RR) {
        name(rr.name); u16(rr.type); u16(rr.cls); u32(rr.ttl)
        let lengthAt = bytes.count
        u16(0)
        switch rr.data {
        case .raw(let b): bytes += b
        case .name(let n): name(n)
        case .soa(let minimum):
            name("ns1.example.com"); name("hostmaster.example.com")
            u32(2024010101); u32(7200); u32(900); u32(1209600); u32(minimum)
        }
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8); bytes[lengthAt + 1] = UInt8(length & 0xff)
    }

    static func response(id: UInt16 = 0x1234, flags: UInt16 = 0x8180, qname: String = "api.example.com",
                         qtype: UInt16 = 1, qclass: UInt16 = 1, answers: [RR] = [], authority: [RR] = [],
                         additional: [RR] = [], compress: Bool = true) -> [UInt8] {
        var b = DNSBuilder(compress: compress)
        b.u16(id); b.u16(flags); b.u16(1)
        b.u16(UInt16(answers.count)); b.u16(UInt16(authority.count)); b.u16(UInt16(additional.count))
        b.name(qname); b.u16(qtype); b.u16(qclass)
        for rr in answers + authority + additional { b.record(rr) }
        return b.bytes
    }
}

private func a(_ name: String, _ text: String, ttl: UInt32) -> DNSBuilder.RR {
    DNSBuilder.RR(name: name, type: 1, ttl: ttl, data: .raw(IPAddress(text)!.bytes))
}

private func aaaa(_ name: String, _ text: String, ttl: UInt32) -> DNSBuilder.RR {
    DNSBuilder.RR(name: name, type: 28, ttl: ttl, data: .raw(IPAddress(text)!.bytes))
}

private func cname(_ name: String, _ target: String, ttl: UInt32) -> DNSBuilder.RR {
    DNSBuilder.RR(name: name, type: 5, ttl: ttl, data: .name(target))
}

private func soa(_ zone: String, ttl: UInt32, minimum: UInt32) -> DNSBuilder.RR {
    DNSBuilder.RR(name: zone, type: 6, ttl: ttl, data: .soa(minimum: minimum))
}

private func rec(_ text: String, _ ttl: UInt32) -> DNSRecord { DNSRecord(address: IPAddress(text)!, ttl: ttl) }

private func parse(_ bytes: [UInt8], id: UInt16 = 0x1234, name: String = "api.example.com",
                   type: DNSRecordType = .a) throws -> DNSResponse {
    try DNSMessage.parseResponse(bytes, id: id, name: name, type: type)
}

private func assertMalformed(_ bytes: [UInt8], type: DNSRecordType = .a, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try parse(bytes, type: type), file: file, line: line) { error in
        guard case DNSMessageError.malformed = error else {
            return XCTFail("expected malformed, got \(error)", file: file, line: line)
        }
    }
}

final class DNSMessageTests: XCTestCase {
    func testQueryBytes() {
        let expected: [UInt8] = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                 3] + Array("api".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8)
            + [0, 0, 28, 0, 1]
        XCTAssertEqual(DNSMessage.query(id: 0xbeef, name: "api.example.com", type: .aaaa), expected)
        XCTAssertEqual(DNSMessage.query(id: 0xbeef, name: "api.example.com.", type: .aaaa), expected)
        let q = DNSMessage.query(id: 1, name: "x.org", type: .a)
        XCTAssertEqual(Array(q.suffix(4)), [0, 1, 0, 1])
        XCTAssertEqual(q.count, 12 + 7 + 4)
    }

    func testValidNames() {
        XCTAssertTrue(DNSMessage.isValidName("api.example.com"))
        XCTAssertTrue(DNSMessage.isValidName("api.example.com."))
        XCTAssertFalse(DNSMessage.isValidName("api..example.com"))
        XCTAssertFalse(DNSMessage.isValidName(""))
        XCTAssertFalse(DNSMessage.isValidName("."))
        XCTAssertFalse(DNSMessage.isValidName(String(repeating: "x", count: 64) + ".com"))
        XCTAssertFalse(DNSMessage.isValidName(Array(repeating: String(repeating: "x", count: 60), count: 5).joined(separator: ".")))
    }

    func testAAnswerWithTTLs() throws {
        for compress in [false, true] {
            let bytes = DNSBuilder.response(answers: [a("api.example.com", "192.0.2.1", ttl: 300),
                                                      a("api.example.com", "192.0.2.2", ttl: 60)], compress: compress)
            let r = try parse(bytes)
            XCTAssertEqual(r.id, 0x1234)
            XCTAssertEqual(r.rcode, 0)
            XCTAssertFalse(r.truncated)
            XCTAssertEqual(r.records, [rec("192.0.2.1", 300), rec("192.0.2.2", 60)])
            XCTAssertNil(r.negativeTTL)
        }
    }

    func testAAAAAnswer() throws {
        let bytes = DNSBuilder.response(qtype: 28, answers: [aaaa("api.example.com", "2001:db8::53", ttl: 3600),
                                                             a("api.example.com", "192.0.2.1", ttl: 5)])
        XCTAssertEqual(try parse(bytes, type: .aaaa).records, [rec("2001:db8::53", 3600)])
        // The question must echo the type asked for.
        XCTAssertThrowsError(try parse(bytes, type: .a)) { XCTAssertEqual($0 as? DNSMessageError, .questionMismatch) }
    }

    func testCNAMEChainTakesMinimumTTL() throws {
        let alias = cname("api.example.com", "edge.cdn.example.net", ttl: 120)
        let edge = [a("edge.cdn.example.net", "198.51.100.7", ttl: 600), a("edge.cdn.example.net", "198.51.100.8", ttl: 30)]
        let expected = [rec("198.51.100.7", 120), rec("198.51.100.8", 30)]
        for compress in [false, true] {
            XCTAssertEqual(try parse(DNSBuilder.response(answers: [alias] + edge, compress: compress)).records, expected)
            // Any order.
            XCTAssertEqual(try parse(DNSBuilder.response(answers: edge + [alias], compress: compress)).records, expected)
        }
        // Two hops.
        let twoHops = DNSBuilder.response(answers: [cname("edge.cdn.example.net", "pop1.cdn.example.net", ttl: 45),
                                                    a("pop1.cdn.example.net", "203.0.113.9", ttl: 900), alias])
        XCTAssertEqual(try parse(twoHops).records, [rec("203.0.113.9", 45)])
    }

    func testCNAMELoopAndLongChainsEndEmpty() throws {
        let loop = DNSBuilder.response(answers: [cname("api.example.com", "b.example.com", ttl: 60),
                                                 cname("b.example.com", "api.example.com", ttl: 60)])
        XCTAssertEqual(try parse(loop).records, [])
        var chain: [DNSBuilder.RR] = [cname("api.example.com", "h1.example.com", ttl: 60)]
        for i in 1...12 { chain.append(cname("h\(i).example.com", "h\(i + 1).example.com", ttl: 60)) }
        chain.append(a("h13.example.com", "192.0.2.1", ttl: 60))
        XCTAssertEqual(try parse(DNSBuilder.response(answers: chain)).records, [])
    }

    func testRecordsForOtherNamesTypesAndClassesIgnored() throws {
        var chaos = a("api.example.com", "192.0.2.66", ttl: 60)
        chaos.cls = 3
        let txt = DNSBuilder.RR(name: "api.example.com", type: 16, ttl: 60, data: .raw([3] + Array("abc".utf8)))
        let bytes = DNSBuilder.response(answers: [a("other.example.com", "192.0.2.9", ttl: 60), chaos, txt,
                                                  a("api.example.com", "192.0.2.1", ttl: 60),
                                                  cname("www.example.com", "api.example.com", ttl: 5)],
                                        additional: [a("api.example.com", "192.0.2.77", ttl: 60)])
        XCTAssertEqual(try parse(bytes).records, [rec("192.0.2.1", 60)])
    }

    func testUppercaseNamesMatch() throws {
        let bytes = DNSBuilder.response(qname: "API.Example.COM",
                                        answers: [cname("Api.EXAMPLE.com", "EDGE.cdn.example.NET", ttl: 100),
                                                  a("edge.CDN.example.net", "192.0.2.1", ttl: 200)], compress: false)
        XCTAssertEqual(try parse(bytes).records, [rec("192.0.2.1", 100)])
        XCTAssertEqual(try parse(bytes, name: "api.example.COM.").records, [rec("192.0.2.1", 100)])
    }

    func testCompressionPointerLoopIsMalformed() {
        var header = DNSBuilder.response(answers: [])
        header[7] = 1  // ANCOUNT 1
        let selfPointer = header + [0xc0, UInt8(header.count)] + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        assertMalformed(selfPointer)
        // Forward pointer into a label that points back at it: a two-step loop.
        let at = header.count
        let twoStep = header + [0xc0, UInt8(at + 2), 1, UInt8(ascii: "x"), 0xc0, UInt8(at)]
            + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        assertMalformed(twoStep)
        // A label followed by a pointer back to itself: the name grows until 255 bytes.
        let growing = header + [1, UInt8(ascii: "x"), 0xc0, UInt8(at)] + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        assertMalformed(growing)
        // In the question itself.
        var q: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]
        q += [0xc0, 12, 0, 1, 0, 1]
        assertMalformed(q)
    }

    func testPointerOutOfBoundsIsMalformed() {
        var header = DNSBuilder.response(answers: [])
        header[7] = 1
        let rest: [UInt8] = [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        assertMalformed(header + [0xff, 0xff] + rest)
        assertMalformed(header + [0xc0])  // pointer cut in half
        // CNAME target pointing past the end of the message.
        let cnameRR: [UInt8] = [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc1, 0x00]
        assertMalformed(header + cnameRR)
        // Extended/reserved label types.
        assertMalformed(header + [0x41, 0] + rest)
        assertMalformed(header + [0x80, 0] + rest)
    }

    func testBadRecordDataIsMalformed() {
        var short = DNSBuilder.response(answers: [DNSBuilder.RR(name: "api.example.com", type: 1, ttl: 1, data: .raw([1, 2, 3]))])
        assertMalformed(short)
        short = DNSBuilder.response(qtype: 28, answers: [DNSBuilder.RR(name: "x.example.com", type: 28, ttl: 1, data: .raw([1, 2, 3, 4]))])
        assertMalformed(short, type: .aaaa)
        // RDLENGTH past the end.
        var long = DNSBuilder.response(answers: [a("api.example.com", "192.0.2.1", ttl: 1)])
        long[long.count - 5] = 9
        assertMalformed(long)
    }

    func testEveryTruncatedPrefixThrows() throws {
        let full = DNSBuilder.response(answers: [cname("api.example.com", "edge.cdn.example.net", ttl: 300),
                                                 a("edge.cdn.example.net", "192.0.2.1", ttl: 60),
                                                 a("edge.cdn.example.net", "192.0.2.2", ttl: 60)],
                                       authority: [soa("example.net", ttl: 3600, minimum: 300)],
                                       additional: [aaaa("ns1.example.net", "2001:db8::1", ttl: 60)])
        XCTAssertEqual(try parse(full).records.count, 2)
        for length in 0..<full.count {
            XCTAssertThrowsError(try parse(Array(full.prefix(length))), "prefix of \(length) bytes")
        }
        for compress in [false, true] {
            let nx = DNSBuilder.response(flags: 0x8183, authority: [soa("example.com", ttl: 900, minimum: 300)], compress: compress)
            for length in 0..<nx.count { XCTAssertThrowsError(try parse(Array(nx.prefix(length)))) }
        }
    }

    func testIDMismatch() {
        let bytes = DNSBuilder.response(id: 0x1235, answers: [a("api.example.com", "192.0.2.1", ttl: 60)])
        XCTAssertThrowsError(try parse(bytes)) { XCTAssertEqual($0 as? DNSMessageError, .idMismatch) }
    }

    func testQuestionMismatch() {
        let other = DNSBuilder.response(qname: "api.example.org", answers: [a("api.example.org", "192.0.2.1", ttl: 60)])
        XCTAssertThrowsError(try parse(other)) { XCTAssertEqual($0 as? DNSMessageError, .questionMismatch) }
        let chaos = DNSBuilder.response(qclass: 3)
        XCTAssertThrowsError(try parse(chaos)) { XCTAssertEqual($0 as? DNSMessageError, .questionMismatch) }
        var noQuestion = DNSBuilder.response()
        noQuestion[5] = 0
        XCTAssertThrowsError(try parse(noQuestion)) { XCTAssertEqual($0 as? DNSMessageError, .questionMismatch) }
        let longer = DNSBuilder.response(qname: "x.api.example.com")
        XCTAssertThrowsError(try parse(longer)) { XCTAssertEqual($0 as? DNSMessageError, .questionMismatch) }
    }

    func testQueryIsNotAResponse() {
        let bytes = DNSBuilder.response(flags: 0x0100)
        XCTAssertThrowsError(try parse(bytes)) { XCTAssertEqual($0 as? DNSMessageError, .notAResponse) }
        let echo = DNSMessage.query(id: 0x1234, name: "api.example.com", type: .a)
        XCTAssertThrowsError(try parse(echo)) { XCTAssertEqual($0 as? DNSMessageError, .notAResponse) }
    }

    func testNXDOMAINNegativeTTL() throws {
        let bytes = DNSBuilder.response(flags: 0x8183, authority: [soa("example.com", ttl: 900, minimum: 300)])
        let r = try parse(bytes)
        XCTAssertEqual(r.rcode, 3)
        XCTAssertEqual(r.records, [])
        XCTAssertEqual(r.negativeTTL, 300)
        let lowTTL = try parse(DNSBuilder.response(flags: 0x8183, authority: [soa("example.com", ttl: 60, minimum: 300)]))
        XCTAssertEqual(lowTTL.negativeTTL, 60)
        // NODATA behind a CNAME: capped by the CNAME's TTL too.
        let nodata = try parse(DNSBuilder.response(answers: [cname("api.example.com", "edge.example.net", ttl: 30)],
                                                   authority: [soa("example.net", ttl: 900, minimum: 300)]))
        XCTAssertEqual(nodata.rcode, 0)
        XCTAssertEqual(nodata.negativeTTL, 30)
        // No SOA, or an answer: nil.
        XCTAssertNil(try parse(DNSBuilder.response(flags: 0x8182)).negativeTTL)
        XCTAssertEqual(try parse(DNSBuilder.response(flags: 0x8182)).rcode, 2)
        XCTAssertNil(try parse(DNSBuilder.response(answers: [a("api.example.com", "192.0.2.1", ttl: 60)],
                                                   authority: [soa("example.com", ttl: 900, minimum: 300)])).negativeTTL)
    }

    func testTruncatedBitReported() throws {
        let bytes = DNSBuilder.response(flags: 0x8380, answers: [a("api.example.com", "192.0.2.1", ttl: 60)])
        let r = try parse(bytes)
        XCTAssertTrue(r.truncated)
        XCTAssertEqual(r.records, [rec("192.0.2.1", 60)])
        // TC with counts promising more than arrived: the whole records are kept.
        var cut = DNSBuilder.response(flags: 0x8380, answers: [a("api.example.com", "192.0.2.1", ttl: 60),
                                                               a("api.example.com", "192.0.2.2", ttl: 60)])
        cut.removeLast(6)
        let partial = try parse(cut)
        XCTAssertTrue(partial.truncated)
        XCTAssertEqual(partial.records, [rec("192.0.2.1", 60)])
    }

    func testTTLWithHighBitIsZero() throws {
        let bytes = DNSBuilder.response(answers: [a("api.example.com", "192.0.2.1", ttl: 0x8000_0001)])
        XCTAssertEqual(try parse(bytes).records, [rec("192.0.2.1", 0)])
    }
}

private func opt(size: UInt16) -> DNSBuilder.RR { DNSBuilder.RR(name: ".", type: 41, cls: size, ttl: 0, data: .raw([])) }

private func query(_ name: String = "api.example.com", _ type: DNSRecordType = .a) -> DNSQuery {
    DNSQuery.parse(DNSMessage.query(id: 0x1234, name: name, type: type))!
}

private func count(_ m: [UInt8], _ at: Int) -> Int { Int(m[at]) << 8 | Int(m[at + 1]) }

/// What the forwarder relays to a device (DNSMessage.relay): only what the filter keeps.
final class DNSRelayTests: XCTestCase {
    func testTellsOnlyKeptAddressesWithTTLsTheFilterOutlasts() throws {
        let reply = DNSBuilder.response(answers: [cname("api.example.com", "edge.cdn.net", ttl: 1000),
                                                  a("edge.cdn.net", "192.0.2.1", ttl: 300),
                                                  a("edge.cdn.net", "192.0.2.2", ttl: 300),
                                                  a("edge.cdn.net", "192.0.2.3", ttl: 60)],
                                        authority: [soa("cdn.net", ttl: 60, minimum: 60)], additional: [opt(size: 1232)])
        let trim = DNSTrim(keep: [IPAddress("192.0.2.1")!: 100, IPAddress("192.0.2.3")!: 500, IPAddress("192.0.2.9")!: 500], instead: [])
        let out = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: trim, limit: 512))
        let r = try parse(out)
        XCTAssertEqual(r.records, [rec("192.0.2.1", 100), rec("192.0.2.3", 60)], "the CNAME stays, .2 goes, TTLs capped")
        XCTAssertEqual([count(out, 6), count(out, 8), count(out, 10)], [3, 0, 1], "answers, no authority, the OPT record")
        XCTAssertEqual(Array(out.suffix(11)), [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(out[0..<4]), Array(reply[0..<4]), "same id and flags")
    }

    func testAAAAAnswersAreCutTheSameWay() throws {
        let reply = DNSBuilder.response(qtype: 28, answers: [aaaa("api.example.com", "2001:db8::1", ttl: 60),
                                                             aaaa("api.example.com", "2001:db8::2", ttl: 60)])
        let out = try XCTUnwrap(DNSMessage.relay(reply, query: query("api.example.com", .aaaa),
                                                 trim: DNSTrim(keep: [IPAddress("2001:db8::2")!: 400], instead: []), limit: 512))
        XCTAssertEqual(try parse(out, type: .aaaa).records, [rec("2001:db8::2", 60)])
    }

    func testWhenNoAddressIsKeptTheNamesKeptOnesAreToldInstead() throws {
        let reply = DNSBuilder.response(answers: [cname("api.example.com", "edge.cdn.net", ttl: 1000),
                                                  a("edge.cdn.net", "192.0.2.5", ttl: 300)])
        let trim = DNSTrim(keep: [IPAddress("192.0.2.1")!: 500], instead: [rec("192.0.2.1", 20), rec("2001:db8::1", 20)])
        let out = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: trim, limit: 512))
        XCTAssertEqual(try parse(out).records, [rec("192.0.2.1", 20)], "owned by the end of the chain, of the queried family")
    }

    func testRepliesThatNeedNoChangeGoOutByteForByte() throws {
        let reply = DNSBuilder.response(answers: [a("api.example.com", "192.0.2.1", ttl: 60)])
        XCTAssertEqual(DNSMessage.relay(reply, query: query(), trim: nil, limit: 512), reply)
        XCTAssertEqual(DNSMessage.relay(reply, query: query(), trim: DNSTrim(keep: [IPAddress("192.0.2.1")!: 400], instead: []), limit: 512), reply)
        // A negative answer drops no address: nothing is told instead.
        let nx = DNSBuilder.response(flags: 0x8183, authority: [soa("example.com", ttl: 60, minimum: 30)])
        XCTAssertEqual(DNSMessage.relay(nx, query: query(), trim: DNSTrim(keep: [:], instead: [rec("192.0.2.1", 20)]), limit: 512), nx)
        XCTAssertNil(DNSMessage.relay(Array(reply.prefix(20)), query: query(), trim: DNSTrim(keep: [:], instead: []), limit: 512), "a cut message without TC")
        XCTAssertEqual(DNSMessage.relay(Array(reply.prefix(20)), query: query(), trim: nil, limit: 512), Array(reply.prefix(20)), "no rule covers it: as sent")
    }

    func testAnAnswerTooBigForTheClientIsTruncatedSoItAsksOverTCP() throws {
        let answers = (1...40).map { a("api.example.com", "198.51.100.\($0)", ttl: 60) }
        let reply = DNSBuilder.response(answers: answers, additional: [opt(size: 4096)])
        XCTAssertEqual(DNSMessage.relay(reply, query: query(), trim: nil, limit: 4096), reply)
        let cut = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: nil, limit: 512))
        XCTAssertLessThanOrEqual(cut.count, 512)
        XCTAssertEqual(cut[2] & 0x02, 0x02, "TC")
        XCTAssertEqual([count(cut, 6), count(cut, 8), count(cut, 10)], [0, 0, 1])
        let r = try parse(cut)
        XCTAssertTrue(r.truncated)
        // Cut to 16 kept addresses the same answer fits 512 bytes whole.
        var keep: [IPAddress: UInt32] = [:]
        for k in 1...16 { keep[IPAddress("198.51.100.\(k)")!] = 400 }
        let trimmed = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: DNSTrim(keep: keep, instead: []), limit: 512))
        XCTAssertEqual(try parse(trimmed).records.count, 16)
        XCTAssertEqual(trimmed[2] & 0x02, 0)
    }

    /// Found while adding FuzzTests' size invariant: an upstream OPT record with 600 bytes of
    /// options (EDNS padding, say) made the truncated answer 648 bytes for a client that
    /// takes 512. The cut answer keeps the OPT record without its options.
    func testATruncatedAnswerFitsTheLimitWhateverTheUpstreamsOPTCarries() throws {
        let answers = (1...40).map { a("api.example.com", "198.51.100.\($0)", ttl: 60) }
        let padded = DNSBuilder.RR(name: ".", type: 41, cls: 4096, ttl: 0, data: .raw([0, 12, 2, 0x58] + Array(repeating: 0, count: 600)))
        let reply = DNSBuilder.response(answers: answers, additional: [padded])
        let cut = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: nil, limit: 512))
        XCTAssertLessThanOrEqual(cut.count, 512)
        XCTAssertEqual(cut[2] & 0x02, 0x02, "TC")
        XCTAssertEqual([count(cut, 6), count(cut, 8), count(cut, 10)], [0, 0, 1])
        XCTAssertEqual(Array(cut.suffix(11)), [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0], "the OPT record, without options")
        XCTAssertTrue(try parse(cut).truncated)
        // Options that fit stay as the upstream sent them.
        let small = DNSBuilder.RR(name: ".", type: 41, cls: 4096, ttl: 0, data: .raw([0, 12, 0, 4, 0, 0, 0, 0]))
        let kept = try XCTUnwrap(DNSMessage.relay(DNSBuilder.response(answers: answers, additional: [small]), query: query(), trim: nil, limit: 512))
        XCTAssertEqual(Array(kept.suffix(19)), [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 8, 0, 12, 0, 4, 0, 0, 0, 0])
    }

    func testTheClientsUDPLimitComesFromItsOPTRecord() {
        func limit(_ size: UInt16?) -> Int {
            var q = DNSMessage.query(id: 7, name: "api.example.com", type: .a)
            if let size { q[11] = 1; q += [0, 0, 41, UInt8(size >> 8), UInt8(size & 0xff), 0, 0, 0, 0, 0, 0] }
            return DNSQuery.parse(q)!.udpLimit
        }
        XCTAssertEqual(limit(nil), 512)
        XCTAssertEqual(limit(1232), 1232)
        XCTAssertEqual(limit(100), 512)
        XCTAssertEqual(limit(65000), 4096)
    }
}

extension DNSRelayTests {
    func testHTTPSHintsAndANYAnswersTellOnlyKeptAddresses() throws {
        // HTTPS 1 . alpn=h2 ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::9
        let rdata: [UInt8] = [0, 1, 0] + [0, 1, 0, 3, 2] + Array("h2".utf8)
            + [0, 4, 0, 8] + IPAddress("192.0.2.1")!.bytes + IPAddress("192.0.2.2")!.bytes
            + [0, 6, 0, 16] + IPAddress("2001:db8::9")!.bytes
        let https = DNSBuilder.RR(name: "api.example.com", type: 65, ttl: 60, data: .raw(rdata))
        let reply = DNSBuilder.response(qtype: 65, answers: [https])
        let q = DNSQuery.parse(DNSMessage.query(id: 0x1234, name: "api.example.com", type: .a).enumerated().map { $0.offset == 12 + 18 ? 65 : $0.element })!
        XCTAssertEqual(q.type, 65)
        let trim = DNSTrim(keep: [IPAddress("192.0.2.2")!: 100], instead: [])
        let out = try XCTUnwrap(DNSMessage.relay(reply, query: q, trim: trim, limit: 512))
        let expected: [UInt8] = [0, 1, 0] + [0, 1, 0, 3, 2] + Array("h2".utf8) + [0, 4, 0, 4] + IPAddress("192.0.2.2")!.bytes
        XCTAssertEqual(Array(out.suffix(expected.count)), expected, "ipv4hint cut to the kept address, the emptied ipv6hint gone")
        XCTAssertEqual(DNSMessage.relay(reply, query: q, trim: nil, limit: 512), reply, "names no rule covers: unchanged")
        // An ANY answer: its address records are cut like an A answer's.
        let anyReply = DNSBuilder.response(qtype: 255, answers: [a("api.example.com", "192.0.2.1", ttl: 60), a("api.example.com", "192.0.2.2", ttl: 60)])
        let anyQuery = DNSQuery.parse(DNSMessage.query(id: 0x1234, name: "api.example.com", type: .a).enumerated().map { $0.offset == 12 + 18 ? 255 : $0.element })!
        let anyOut = try XCTUnwrap(DNSMessage.relay(anyReply, query: anyQuery, trim: trim, limit: 512))
        XCTAssertEqual([count(anyOut, 6)], [1])
        XCTAssertEqual(Array(anyOut.suffix(4)), IPAddress("192.0.2.2")!.bytes)
    }
}

/// An RRSIG over `covered` at `owner` (RFC 4034 3.1; algorithm 13, signer example.com).
private func rrsig(_ owner: String, covering covered: UInt16, ttl: UInt32 = 300) -> DNSBuilder.RR {
    var data: [UInt8] = [UInt8(covered >> 8), UInt8(covered & 0xff), 13, 3, 0, 0, 1, 44]
    data += [0x6a, 0, 0, 0, 0x69, 0, 0, 0, 0x30, 0x39]  // expiration, inception, key tag
    data += [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]  // signer, uncompressed
    data += Array(repeating: 0xab, count: 64)
    return DNSBuilder.RR(name: owner, type: 46, ttl: ttl, data: .raw(data))
}

extension DNSRelayTests {
    /// RRSIGs (type covered) left in the answer section of a relayed message.
    private func signatures(_ m: [UInt8]) -> [UInt16] {
        var r = DNSMessage.Reader(bytes: m, offset: 12)
        _ = try? r.name(); _ = try? r.take(4)
        var covered: [UInt16] = []
        for _ in 0..<count(m, 6) {
            guard (try? r.name()) != nil, let type = try? r.u16(), (try? r.take(6)) != nil,
                  let length = try? r.u16(), let data = try? r.take(Int(length)) else { XCTFail("unreadable"); return covered }
            if type == 46 { covered.append(UInt16(data[data.startIndex]) << 8 | UInt16(data[data.startIndex + 1])) }
        }
        return covered
    }

    /// A trimmed answer is no longer what the upstream validated: the RRSIGs over the cut
    /// RRsets go and AD is cleared; the CNAME's signature stays. A TTL cap alone keeps both.
    func testATrimmedAnswerDropsItsSignaturesAndTheADFlag() throws {
        let reply = DNSBuilder.response(flags: 0x81a0, answers: [cname("api.example.com", "edge.example.com", ttl: 300),
                                                                 rrsig("api.example.com", covering: 5),
                                                                 a("edge.example.com", "192.0.2.1", ttl: 300),
                                                                 a("edge.example.com", "192.0.2.2", ttl: 300),
                                                                 rrsig("edge.example.com", covering: 1)],
                                        additional: [opt(size: 1232)])
        XCTAssertEqual(signatures(reply), [5, 1])
        let cut = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: DNSTrim(keep: [IPAddress("192.0.2.1")!: 400], instead: []), limit: 4096))
        XCTAssertEqual(try parse(cut).records, [rec("192.0.2.1", 300)])
        XCTAssertEqual(signatures(cut), [5], "the A RRset changed: its RRSIG goes, the CNAME's stays")
        XCTAssertEqual(cut[3] & 0x20, 0, "AD cleared")
        // Only TTLs capped: the RRset is the same, its signature still verifies.
        let both: [IPAddress: UInt32] = [IPAddress("192.0.2.1")!: 100, IPAddress("192.0.2.2")!: 100]
        let capped = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: DNSTrim(keep: both, instead: []), limit: 4096))
        XCTAssertEqual(signatures(capped), [5, 1])
        XCTAssertEqual(capped[3] & 0x20, 0x20)
        // Addresses told instead of the answer's: not signed by anyone.
        let instead = try XCTUnwrap(DNSMessage.relay(reply, query: query(), trim: DNSTrim(keep: [IPAddress("192.0.2.9")!: 400], instead: [rec("192.0.2.9", 20)]), limit: 4096))
        XCTAssertEqual(signatures(instead), [5])
        XCTAssertEqual(instead[3] & 0x20, 0)
        // HTTPS hints cut: the HTTPS RRSIG goes too.
        let rdata: [UInt8] = [0, 1, 0] + [0, 4, 0, 8] + IPAddress("192.0.2.1")!.bytes + IPAddress("192.0.2.2")!.bytes
        let https = DNSBuilder.response(flags: 0x81a0, qtype: 65, answers: [DNSBuilder.RR(name: "api.example.com", type: 65, ttl: 60, data: .raw(rdata)),
                                                                            rrsig("api.example.com", covering: 65)])
        let q = DNSQuery.parse(DNSMessage.query(id: 0x1234, name: "api.example.com", type: .a).enumerated().map { $0.offset == 12 + 18 ? 65 : $0.element })!
        let hints = try XCTUnwrap(DNSMessage.relay(https, query: q, trim: DNSTrim(keep: [IPAddress("192.0.2.1")!: 400], instead: []), limit: 4096))
        XCTAssertEqual(signatures(hints), [])
        XCTAssertEqual(hints[3] & 0x20, 0)
    }
}
