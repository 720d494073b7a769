import XCTest
@testable import GatePeerCore

final class GrantTests: XCTestCase {
    func g(_ from: String, _ to: String, _ proto: ProtocolMatch = .any, _ ports: [PortRange] = [], expires: Int64 = 100) -> Grant {
        Grant(from: IPPrefix(from)!, to: IPPrefix(to)!, protocolMatch: proto, ports: ports, expires: expires)
    }

    func testDurations() {
        XCTAssertEqual(Grant.parseDuration("90s"), 90)
        XCTAssertEqual(Grant.parseDuration("2h"), 7200)
        XCTAssertEqual(Grant.parseDuration("1h30m"), 5400)
        XCTAssertEqual(Grant.parseDuration("1d"), 86400)
        for bad in ["", "2", "h", "2x", "-1h", "0s", "400d", "1h30"] { XCTAssertNil(Grant.parseDuration(bad), bad) }
        // Issue 10 item 9: a unit given twice ("1d1d" read as 2 days) or out of order is a typo.
        for bad in ["1d1d", "30m1h", "1h1h", "5s5s", "1m1d"] { XCTAssertNil(Grant.parseDuration(bad), bad) }
        XCTAssertEqual(Grant.parseDuration("1d2h3m4s"), 93784)
        XCTAssertEqual(Grant.formatDuration(5400), "1h30m")
        XCTAssertEqual(Grant.formatDuration(59), "59s")
        XCTAssertEqual(Grant.formatDuration(0), "expired")
    }

    func testConflictsAreOverlapsInEveryField() {
        let a = g("10.128.0.0/16", "203.0.113.0/24", .number(6), [PortRange(low: 443, high: 443)])
        XCTAssertTrue(a.conflicts(with: g("10.128.0.11/32", "203.0.113.10/32", .number(6), [PortRange(low: 400, high: 500)])))
        XCTAssertFalse(a.conflicts(with: g("10.128.0.11/32", "203.0.113.10/32", .number(6), [PortRange(low: 22, high: 22)])))
        XCTAssertFalse(a.conflicts(with: g("10.129.0.0/16", "203.0.113.0/24", .number(6), [PortRange(low: 443, high: 443)])))
        XCTAssertFalse(a.conflicts(with: g("10.128.0.0/16", "203.0.113.0/24", .number(17), [PortRange(low: 443, high: 443)])))
        XCTAssertFalse(a.conflicts(with: a), "the same scope is a renewal, not a conflict")
        XCTAssertTrue(g("10.128.0.0/9", "0.0.0.0/0").conflicts(with: g("10.128.0.0/16", "198.51.100.0/24")))
    }

    func testStateRoundTripsAndRendersElements() throws {
        let grants = [g("10.128.0.11/32", "203.0.113.10/32", .number(6), [PortRange(low: 22, high: 22), PortRange(low: 8000, high: 8080)], expires: 1000),
                      g("10.128.0.0/16", "203.0.113.0/24", .number(17), expires: 500), g("fd00::/64", "2001:db8::/32", expires: 2000),
                      g("10.0.0.0/8", "192.0.2.0/24", expires: 10)]
        XCTAssertEqual(try GrantState.decode(GrantState.encode(grants)).get(), grants)
        XCTAssertEqual(GrantState.elements(grants, nowMs: 100_000).map { "\($0.set) { \($0.text) }" }, [
            "grants4 { 10.128.0.11/32 . 203.0.113.10/32 . 6 . 22 timeout 900s expires 900s }",
            "grants4 { 10.128.0.11/32 . 203.0.113.10/32 . 6 . 8000-8080 timeout 900s expires 900s }",
            "grants4p { 10.128.0.0/16 . 203.0.113.0/24 . 17 timeout 400s expires 400s }",
            "grants6a { fd00::/64 . 2001:db8::/32 timeout 1900s expires 1900s }",
        ])
        XCTAssertEqual(GrantState.deleteElements(grants[1]).map { "\($0.set) { \($0.text) }" }, ["grants4p { 10.128.0.0/16 . 203.0.113.0/24 . 17 }"])
        if case .success = GrantState.decode("{\"grants\": [{\"from\": \"10.0.0.1/8\", \"to\": \"x\", \"expires\": 1}]}") { XCTFail("bad state accepted") }
    }

    /// Timeouts run to the deadline to the millisecond: with whole seconds a grant loaded
    /// at x.9 s lived up to 0.9 s past its time (a lab test saw it still open).
    func testElementTimeoutsEndAtTheDeadlineToTheMillisecond() throws {
        XCTAssertEqual(NftTime.text(900_000), "900s")
        XCTAssertEqual(NftTime.text(899_750), "899s750ms")
        XCTAssertEqual(NftTime.text(250), "250ms")
        let grants = [g("10.0.0.0/8", "192.0.2.0/24", expires: 1000), g("10.0.0.0/8", "198.51.100.0/24", expires: 101),
                      g("10.0.0.0/8", "203.0.113.0/24", expires: 100)]
        XCTAssertEqual(GrantState.elements(grants, nowMs: 100_250).map { "\($0.set) { \($0.text) }" }, [
            "grants4a { 10.0.0.0/8 . 192.0.2.0/24 timeout 899s750ms expires 899s750ms }",
            "grants4a { 10.0.0.0/8 . 198.51.100.0/24 timeout 750ms expires 750ms }",
        ], "the grant due at 100 s is not loaded at 100.25 s")

        let config = try ConfigDecoder.decode("""
            {"links": [{"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
              "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"}]}],
             "filter": {"uplinkDevice": "uplink", "resolvers": ["203.0.113.53"], "outbound": [{"name": "a", "sources": ["10.128.0.0/9"],
               "rules": [{"action": "allow", "domain": "api.example.com", "protocol": "tcp", "ports": [443]}]}]}}
            """).get()
        let learned = LearnedAddresses(names: ["api.example.com": [.init(address: IPAddress("192.0.2.7")!, expires: 110),
                                                                  .init(address: IPAddress("192.0.2.8")!, expires: 100)]])
        let elements = learned.elements(config, nowMs: 100_400)
        XCTAssertEqual(elements.map(\.set), ["g0_dom4"], "the address due at 100 s is not loaded")
        XCTAssertEqual(elements.first?.text, "192.0.2.7 . 6 . 443 timeout 9s600ms expires 9s600ms : goto r0_0")
    }

    /// The raw keys gatepeer sends: nft's layout, each field padded to 32 bits, network
    /// byte order; interval sets get a key end with each field's last value.
    func testElementKeysAreTheKernelsLayout() {
        let g = g("10.128.0.0/16", "203.0.113.10/32", .number(6), [PortRange(low: 8000, high: 8080)], expires: 200)
        let e = GrantState.elements([g], nowMs: 100_000)
        XCTAssertEqual(e.count, 1)
        XCTAssertEqual(e[0].set, "grants4")
        XCTAssertTrue(e[0].interval)
        XCTAssertEqual(e[0].timeoutMs, 100_000)
        XCTAssertEqual(e[0].keyBytes(end: false), [10, 128, 0, 0, 203, 0, 113, 10, 6, 0, 0, 0, 0x1f, 0x40, 0, 0])
        XCTAssertEqual(e[0].keyBytes(end: true), [10, 128, 255, 255, 203, 0, 113, 10, 6, 0, 0, 0, 0x1f, 0x90, 0, 0])
        let v6 = GrantState.elements([self.g("fd00::/64", "2001:db8::/32", expires: 200)], nowMs: 0)[0]
        XCTAssertEqual(v6.set, "grants6a")
        XCTAssertEqual(v6.keyBytes(end: false), [0xfd, 0] + [UInt8](repeating: 0, count: 14) + [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 12))
        XCTAssertEqual(v6.keyBytes(end: true), [0xfd, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8) + [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0xff, count: 12))
        XCTAssertEqual(GrantState.deleteElements(g).map(\.timeoutMs), [nil], "deletes carry keys only")
        let learned = NftElement(set: "g0_dom4p", key: [.address(IPAddress("192.0.2.7")!), .proto(17)], interval: false, timeoutMs: 1500, gotoChain: "r0_2")
        XCTAssertEqual(learned.keyBytes(end: false), [192, 0, 2, 7, 17, 0, 0, 0])
        XCTAssertEqual(learned.text, "192.0.2.7 . 17 timeout 1s500ms expires 1s500ms : goto r0_2")
    }

    func testCoversChecksEveryField() {
        let a = g("10.128.0.0/16", "203.0.113.0/24", .number(6), [PortRange(low: 443, high: 443)], expires: 100)
        XCTAssertTrue(a.covers(source: IPAddress("10.128.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 6, port: 443, now: 99))
        XCTAssertFalse(a.covers(source: IPAddress("10.128.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 6, port: 443, now: 100))
        XCTAssertFalse(a.covers(source: IPAddress("10.128.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 17, port: 443, now: 0))
        XCTAssertFalse(a.covers(source: IPAddress("10.129.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 6, port: 443, now: 0))
    }

    /// Round 2, item 6: one strict decimal reader for every number written as text: no
    /// sign, no leading zero, and a duration's later unit stays below the one before.
    func testNumbersAreStrictDecimalEverywhere() {
        XCTAssertEqual(DecimalText.parse("443", in: 1...65535), 443)
        XCTAssertEqual(DecimalText.parse("0", in: 0...255), 0)
        for bad in ["+443", "0443", "00", "-1", " 443", "443 ", "", "4_43", "٤٤٣", "99999999999999999999"] {
            XCTAssertNil(DecimalText.parse(bad, in: 0...Int.max), bad)
        }
        XCTAssertEqual(PortRange.parse("80-90"), PortRange(low: 80, high: 90))
        for bad in ["+80-+90", "080-090", "+443", "0443", "80-", "-90"] { XCTAssertNil(PortRange.parse(Substring(bad)), bad) }
        XCTAssertEqual(ProtocolMatch.parse("6"), .number(6))
        for bad in ["+6", "06", "256"] { XCTAssertNil(ProtocolMatch.parse(bad), bad) }
        for bad in ["tcp/+443", "tcp/0443", "tcp/", "6/+1"] {
            if case .success = FilterCheck.parseProtocol(bad) { XCTFail("\(bad) accepted") }
        }
        XCTAssertEqual(Grant.parseDuration("90s"), 90)
        XCTAssertEqual(Grant.parseDuration("90m"), 5400)
        XCTAssertEqual(Grant.parseDuration("1h30m"), 5400)
        XCTAssertEqual(Grant.parseDuration("1d23h59m59s"), 86400 * 2 - 1)
        for bad in ["1h60m", "1d24h", "2m60s", "1h3600s", "+1h", "01h", "1h05m", "h", "1h+5m"] {
            XCTAssertNil(Grant.parseDuration(bad), bad)
        }
    }
}
