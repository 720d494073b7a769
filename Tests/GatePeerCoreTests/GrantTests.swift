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
        XCTAssertEqual(GrantState.nftElements(grants, now: 100), """
        add element inet gatepeer grants4 { 10.128.0.11/32 . 203.0.113.10/32 . 6 . 22 timeout 900s expires 900s, 10.128.0.11/32 . 203.0.113.10/32 . 6 . 8000-8080 timeout 900s expires 900s }
        add element inet gatepeer grants4p { 10.128.0.0/16 . 203.0.113.0/24 . 17 timeout 400s expires 400s }
        add element inet gatepeer grants6a { fd00::/64 . 2001:db8::/32 timeout 1900s expires 1900s }

        """)
        XCTAssertEqual(GrantState.nftDelete(grants[1]), "delete element inet gatepeer grants4p { 10.128.0.0/16 . 203.0.113.0/24 . 17 }\n")
        if case .success = GrantState.decode("{\"grants\": [{\"from\": \"10.0.0.1/8\", \"to\": \"x\", \"expires\": 1}]}") { XCTFail("bad state accepted") }
    }

    func testCoversChecksEveryField() {
        let a = g("10.128.0.0/16", "203.0.113.0/24", .number(6), [PortRange(low: 443, high: 443)], expires: 100)
        XCTAssertTrue(a.covers(source: IPAddress("10.128.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 6, port: 443, now: 99))
        XCTAssertFalse(a.covers(source: IPAddress("10.128.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 6, port: 443, now: 100))
        XCTAssertFalse(a.covers(source: IPAddress("10.128.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 17, port: 443, now: 0))
        XCTAssertFalse(a.covers(source: IPAddress("10.129.5.5")!, destination: IPAddress("203.0.113.9")!, proto: 6, port: 443, now: 0))
    }
}
