import Foundation
import XCTest
@testable import GatePeerCore

/// Byte mutations for the seeded fuzz loops: bit flips, interesting bytes, inserts,
/// deletes, duplicated chunks, splices with another input and format tokens. Driven by
/// SplitMix64 from a fixed seed, so every run tries the same inputs and a failure names
/// the iteration that replays it.
struct Mutator {
    var rng: SplitMix64
    /// Byte strings of the format (JSON punctuation, DNS pointers) to drop in whole.
    let tokens: [[UInt8]]

    init(seed: UInt64, tokens: [[UInt8]]) { rng = SplitMix64(seed: seed); self.tokens = tokens }

    mutating func mutate(_ input: [UInt8], pool: [[UInt8]]) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !b.isEmpty: b[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            case 1 where !b.isEmpty: b[at] = [0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff].randomElement(using: &rng)!
            case 2: b.insert(contentsOf: (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 3 where !b.isEmpty: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...16, using: &rng)))
            case 4:
                let other = pool.randomElement(using: &rng)!
                let from = other.isEmpty ? 0 : Int.random(in: 0..<other.count, using: &rng)
                b = Array(b[..<at]) + other[from...]
            case 5 where !b.isEmpty:
                let chunk = b[at..<min(b.count, at + Int.random(in: 1...32, using: &rng))]
                b.insert(contentsOf: chunk, at: Int.random(in: 0...b.count, using: &rng))
            default:
                let t = tokens.randomElement(using: &rng)!
                if Bool.random(using: &rng) || b.isEmpty { b.insert(contentsOf: t, at: at) } else {
                    b.replaceSubrange(at..<min(b.count, at + t.count), with: t)
                }
            }
        }
        return b
    }
}

/// Seeded, bounded fuzz loops over the readers of untrusted bytes (issue 11 item 6): the
/// JSON reader (config, grant and learned-address state files), the DNS message codec
/// (queries from devices, answers from upstream, the relayed answer) and the map cache
/// file. Beyond "no crash": what a reader accepts survives its writer and reader again,
/// and a relayed answer tells a device only addresses the filter holds.
final class FuzzTests: XCTestCase {
    static let iterations = 3000

    // MARK: JSON

    /// JSON text of `v` written with JSONOut's string quoting (the --json writer), members
    /// in order and numbers as read.
    static func render(_ v: JSONValue) -> String {
        switch v {
        case .object(let m): return "{" + m.map { JSONOut.quote($0.key) + ":" + render($0.value) }.joined(separator: ",") + "}"
        case .array(let a): return "[" + a.map(render).joined(separator: ",") + "]"
        case .string(let s): return JSONOut.quote(s)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static let jsonTokens: [[UInt8]] = ["{", "}", "[", "]", "\"", ",", ":", "null", "true", "-0", "1e999", "0.5e-3", "\\u0000", "\\ud800",
                                        "\\udc00", "\\ud83d\\ude00", "\\\"", "\u{7f}", "\u{2028}", "\u{feff}", "{\"a\":1,\"a\":2}", "[[[[[[",
                                        "\"rules\": [", "\"protocol\": 6", "\"ports\": [\"1-2\"]"].map { Array($0.utf8) }

    func jsonSeeds() throws -> [[UInt8]] {
        var seeds = [labConfigText, FilterCheckTests.policy, FilterCheckTests.learned.encode(), GrantState.encode([
            Grant(from: IPPrefix("10.128.0.5/32")!, to: IPPrefix("203.0.113.0/24")!, protocolMatch: .number(6), ports: [PortRange(low: 8000, high: 8080)], expires: 100)]),
            #"{"a": [1, -2.5e3, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}, "c": [], "d": "\\/\b\f\r\t"}"#].map { Array($0.utf8) }
        for name in ["34-duplicate-json-key.json", "59-json-trailing-comma.json", "95-filter-domain-ports-partly-overlap.json"] {
            seeds.append(Array(try Data(contentsOf: InvalidConfigTests.dir.appendingPathComponent(name))))
        }
        return seeds
    }

    func testJSONReaderAndTheDecodersOnIt() throws {
        var pool = try jsonSeeds()
        var m = Mutator(seed: 0x6a73_6f6e, tokens: Self.jsonTokens)
        var parsed = 0, configs = 0
        for i in 0..<Self.iterations {
            let input = m.mutate(pool.randomElement(using: &m.rng)!, pool: pool)
            let text = String(decoding: input, as: UTF8.self)
            // The config decoder reads bytes as they are (streaming rules); the state files as text.
            switch ConfigDecoder.decode(bytes: input) {
            case .success: configs += 1
            case .failure(let e): if !(e.problems.first?.message.hasPrefix("not valid JSON") ?? true) { configs += 1 }
            }
            if let l = LearnedAddresses.decode(text) { XCTAssertEqual(LearnedAddresses.decode(l.encode()), l, "iteration \(i)") }
            if case .success(let g) = GrantState.decode(text) { XCTAssertEqual(try? GrantState.decode(GrantState.encode(g)).get(), g, "iteration \(i)") }
            guard let (v, _) = try? JSONReader.parse(bytes: input) else { continue }
            parsed += 1
            let again = Self.render(v)
            guard let (w, _) = try? JSONReader.parse(again) else { XCTFail("iteration \(i): written form does not parse: \(again.prefix(200))"); continue }
            XCTAssertEqual(Self.render(w), again, "iteration \(i)")
            if pool.count < 64 { pool.append(input) }
        }
        // The loop reaches past the first syntax error: a share of inputs parse and get
        // to the config decoder's checks (with seed 0x6a736f6e: 221 and 221 of 3,000).
        XCTAssertGreaterThan(parsed, Self.iterations / 30)
        XCTAssertGreaterThan(configs, Self.iterations / 30)
    }

    /// Values that sit at the edge of what the config fields take.
    static let edgeValues: [JSONValue] = [
        .number("0"), .number("-1"), .number("1"), .number("576"), .number("1280"), .number("65535"), .number("65536"),
        .number("16777215"), .number("4294967296"), .number("1e3"), .number("0.5"), .string(""), .string("0.0.0.0/0"),
        .string("::/0"), .string("10.255.255.254/9"), .string("10.128.0.0/9"), .string("255.255.255.255"), .string("fe80::1"),
        .string("::ffff:10.0.0.1"), .string("2001:db8::1/128"), .string("a.example.com"), .string("*.example.com"), .string("tcp"),
        .string("icmp"), .string("any"), .string("allow"), .string("deny"), .string("1-65535"), .string("443"), .string("eth0"),
        .string("gp0"), .string("aes256gcm16-prfsha384-ecp384"), .bool(true), .bool(false), .null, .array([]), .object([]),
    ]

    /// `v` with its `target`-th node (pre-order) replaced, dropped from its container, or
    /// doubled there; `next` counts nodes on the way.
    static func edit(_ v: JSONValue, _ target: Int, _ next: inout Int, _ rng: inout SplitMix64, _ graft: JSONValue) -> JSONValue? {
        let me = next
        next += 1
        if me == target {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return nil  // dropped by the container
            case 1: return graft
            default: return edgeValues.randomElement(using: &rng)!
            }
        }
        switch v {
        case .object(let members):
            var out: [JSONValue.Member] = []
            for m in members {
                if let e = edit(m.value, target, &next, &rng, graft) { out.append(.init(key: m.key, value: e, line: m.line)) }
            }
            return .object(out)
        case .array(let items):
            var out: [JSONValue] = []
            for i in items {
                if let e = edit(i, target, &next, &rng, graft) { out.append(e) }
                if next == target + 1 && out.count > 0 && Bool.random(using: &rng) { out.append(out[out.count - 1]) }
            }
            return .array(out)
        default: return v
        }
    }

    static func nodes(_ v: JSONValue) -> [JSONValue] {
        switch v {
        case .object(let m): return [v] + m.flatMap { nodes($0.value) }
        case .array(let a): return [v] + a.flatMap(nodes)
        default: return [v]
        }
    }

    /// Structure-aware: valid configs with one or two values changed to edge values,
    /// dropped, doubled or swapped for another part of the document, so the decoders'
    /// checks are reached and what they accept is planned, rendered and checked: nothing
    /// the decoder accepts may trap later (the compiler, the renderer and the planner
    /// hold preconditions).
    func testConfigsOneEditFromValidOnes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var seeds = [labConfigText, FilterCheckTests.policy]
        for name in ["lab.json", "lab-filter.json", "ipsec-site.json", "gatepeer.example.json"] {
            seeds.append(try String(contentsOf: root.appendingPathComponent("netconfig/\(name)"), encoding: .utf8))
        }
        let docs = try seeds.map { try JSONReader.parse($0).0 }
        var rng = SplitMix64(seed: 0x636f_6e66)
        var accepted = 0, refused = 0
        for i in 0..<2000 {
            var doc = docs.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                let all = Self.nodes(doc)
                var next = 0
                doc = Self.edit(doc, Int.random(in: 0..<all.count, using: &rng), &next, &rng, all.randomElement(using: &rng)!) ?? doc
            }
            let text = Self.render(doc)
            switch ConfigDecoder.decode(text) {
            case .failure(let e):
                refused += 1
                XCTAssertFalse(e.problems.isEmpty, "iteration \(i): refused without a problem")
            case .success(let config):
                accepted += 1
                let observed = baseObserved()
                let plan = Planner.plan(config: config, observed: observed)
                _ = NftRenderer.render(config, mtus: Planner.linkMTUs(config, observed))
                _ = plan.changes.map(\.line)
                let dst = IPAddress(v4: UInt32.random(in: 0...UInt32.max, using: &rng))
                let src = config.links.first.map { $0.innerIpAddress.address } ?? dst
                _ = FilterCheck.check(config, source: src, destination: dst, proto: 6, port: 443)
                for (k, site) in (config.ipsec?.sites ?? []).enumerated() {
                    for format in IPsecFormat.allCases {
                        _ = IPsecRender.render(site, format: format, side: .local, key: Array(repeating: 0x41, count: 48), path: "ipsec.sites[\(k)]")
                    }
                }
            }
        }
        // Both sides are reached: edits the decoders refuse and edits they take (with this
        // seed 1,816 and 184 of 2,000).
        XCTAssertGreaterThan(accepted, 90)
        XCTAssertGreaterThan(refused, 900)
    }

    // MARK: DNS

    static let dnsTokens: [[UInt8]] = [[0xc0, 0x0c], [0xc0, 0x00], [0xc0, 0xff], [0x3f], [0x40], [0, 0], [0xff, 0xff], [0, 1, 0, 1],
                                       [0, 28, 0, 1], [0, 5, 0, 1], [0, 46], [0, 41], [0, 65], [0x80, 0, 0, 0], [0, 4, 192, 0, 2, 1]]

    static func rr(_ name: String, _ type: UInt16, _ ttl: UInt32, _ data: DNSBuilder.RData, cls: UInt16 = 1) -> DNSBuilder.RR {
        DNSBuilder.RR(name: name, type: type, cls: cls, ttl: ttl, data: data)
    }

    static let dnsQuery = DNSMessage.query(id: 0x1234, name: "api.example.com", type: .a)

    static func dnsSeeds() -> [[UInt8]] {
        let v4 = { (s: String) in DNSBuilder.RData.raw(IPAddress(s)!.bytes) }
        var https: [UInt8] = [0, 1, 0, 0, 1, 0, 4, 192, 0, 2, 1, 0, 6, 0, 16] + IPAddress("2001:db8::1")!.bytes
        https += [0, 4, 0, 4, 198, 51, 100, 7]
        return [
            DNSBuilder.response(answers: [rr("api.example.com", 5, 1000, .name("edge.cdn.net")), rr("edge.cdn.net", 1, 300, v4("192.0.2.1")),
                                          rr("edge.cdn.net", 1, 300, v4("198.51.100.7")), rr("edge.cdn.net", 46, 300, .raw([0, 1, 13, 3] + Array(repeating: 0xab, count: 20)))],
                                authority: [rr("cdn.net", 6, 60, .soa(minimum: 60))], additional: [rr(".", 41, 0, .raw([]), cls: 1232)]),
            DNSBuilder.response(answers: [rr("api.example.com", 1, 60, v4("192.0.2.1")), rr("api.example.com", 28, 60, .raw(IPAddress("2001:db8::1")!.bytes)),
                                          rr("api.example.com", 65, 60, .raw(https))], compress: false),
            DNSBuilder.response(flags: 0x8383, authority: [rr("example.com", 6, 300, .soa(minimum: 30))]),
            DNSBuilder.response(flags: 0x8380, answers: (1...40).map { rr("api.example.com", 1, 60, v4("192.0.2.\($0)")) }),
            // Padded OPT (RFC 7830): a cut answer must still fit the client's limit.
            DNSBuilder.response(answers: (1...40).map { rr("api.example.com", 1, 60, v4("192.0.2.\($0)")) },
                                additional: [rr(".", 41, 0, .raw([0, 12, 2, 0x58] + Array(repeating: 0, count: 600)), cls: 4096)]),
            dnsQuery, dnsQuery + [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0],
        ]
    }

    func testDNSQueryAnswerAndRelay() {
        var pool = Self.dnsSeeds()
        var m = Mutator(seed: 0x646e_73, tokens: Self.dnsTokens)
        let q = DNSQuery.parse(Self.dnsQuery)!
        let trim = DNSTrim(keep: [IPAddress("192.0.2.1")!: 100, IPAddress("2001:db8::1")!: 50], instead: [DNSRecord(address: IPAddress("192.0.2.9")!, ttl: 30)])
        var answers = 0, relayed = 0, queries = 0
        for i in 0..<Self.iterations {
            let input = m.mutate(pool.randomElement(using: &m.rng)!, pool: pool)
            if let mq = DNSQuery.parse(input) {
                queries += 1
                if pool.count < 64 { pool.append(input) }
                let fail = DNSQuery.servfail(input, mq)
                XCTAssertNil(DNSQuery.parse(fail), "iteration \(i): a SERVFAIL is not a query")
                XCTAssertEqual(fail.count, mq.questionEnd, "iteration \(i)")
                XCTAssertEqual(fail[3] & 0x0f, 2, "iteration \(i)")
            }
            if (try? DNSMessage.parseResponse(input, id: 0x1234, name: "api.example.com", type: .a)) != nil { answers += 1; if pool.count < 64 { pool.append(input) } }
            _ = try? DNSMessage.parseResponse(input, id: 0x1234, name: "api.example.com", type: .aaaa)
            // Names no rule covers go out as they came.
            if input.count <= 4096 { XCTAssertEqual(DNSMessage.relay(input, query: q, trim: nil, limit: 4096), input, "iteration \(i)") }
            for limit in [512, 65535] {
                guard let out = DNSMessage.relay(input, query: q, trim: trim, limit: limit) else { continue }
                relayed += 1
                if out != input { XCTAssertLessThanOrEqual(out.count, limit, "iteration \(i): a rewritten answer over the client's limit") }
                // A device is told only addresses the filter holds, never for longer.
                guard let told = try? DNSMessage.parseResponse(out, id: 0x1234, name: "api.example.com", type: .a) else { continue }
                for r in told.records {
                    let most = trim.keep[r.address] ?? trim.instead.first { $0.address == r.address }?.ttl
                    XCTAssertNotNil(most, "iteration \(i): \(r.address) told, the filter does not hold it")
                    XCTAssertLessThanOrEqual(r.ttl, most ?? 0, "iteration \(i): \(r.address)")
                }
            }
        }
        XCTAssertGreaterThan(answers, Self.iterations / 10)
        XCTAssertGreaterThan(relayed, Self.iterations / 2)
        XCTAssertGreaterThan(queries, 30)
    }

    // MARK: map cache

    func testMapCacheFile() {
        let seed = LoadedMaps(fingerprint: "0123456789abcdef", maps: [
            IntervalMap(name: "g0_dst4", family: .v4, intervals: [MapInterval(low: IPAddress("0.0.0.0")!, high: IPAddress("20.0.0.255")!, verdict: "continue"),
                                                                   MapInterval(low: IPAddress("20.0.1.0")!, high: IPAddress("255.255.255.255")!, verdict: "g0_b3")]),
            IntervalMap(name: "g0_dst6", family: .v6, intervals: [MapInterval(low: IPAddress("::")!, high: IPAddress("2001:db8::ffff")!, verdict: "r0_1")]),
        ]).encode()
        var pool = [seed, LoadedMaps(fingerprint: "", maps: []).encode()]
        var m = Mutator(seed: 0x6d61_7073, tokens: [[0, 0, 0, 0], [0xff, 0xff, 0xff, 0xff], [4], [6], [1, 0, 0, 0], [0xff, 0xff, 0xff, 0x7f]])
        var decoded = 0
        for i in 0..<Self.iterations {
            var input = m.mutate(pool.randomElement(using: &m.rng)!, pool: pool)
            // Mostly with a checksum that fits, so the parser behind it is reached.
            if input.count >= 8, Int.random(in: 0..<4, using: &m.rng) > 0 {
                let body = input.count - 8
                let sum = input.withUnsafeBytes { LoadedMaps.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
                withUnsafeBytes(of: sum.littleEndian) { input.replaceSubrange(body..<input.count, with: $0) }
            }
            guard let maps = LoadedMaps.decode(input) else { continue }
            decoded += 1
            XCTAssertEqual(LoadedMaps.decode(maps.encode()), maps, "iteration \(i)")
            if pool.count < 64 { pool.append(input) }
        }
        XCTAssertGreaterThan(decoded, Self.iterations / 40)
    }
}
