import XCTest
@testable import GatePeerCore

/// Which TCP connections the DNS forwarder keeps (RFC 7766 6.2.2, 6.2.3), on a made-up clock.
final class DNSConnectionPoolTests: XCTestCase {
    let dev1 = IPAddress("10.128.0.11")!, dev2 = IPAddress("10.129.3.7")!

    func pool() -> DNSConnectionPool { DNSConnectionPool(capacity: 6, perSource: 3, idle: 10, lifetime: 120) }

    /// One device at its cap gives up its own connection idle the longest, never another's.
    func testASourceAtItsCapDisplacesOnlyItsOwnLongestIdle() throws {
        var p = pool()
        let other = try XCTUnwrap(p.admit(dev2, now: 0)).id
        let own = try (1...3).map { t in try XCTUnwrap(p.admit(dev1, now: Double(t))).id }
        p.mark(own[0], busy: false, now: 50)  // answered a query lately
        let next = try XCTUnwrap(p.admit(dev1, now: 60))
        XCTAssertEqual(next.close, [own[1]], "idle the longest of dev1's")
        XCTAssertEqual(p.connections.values.filter { $0.source == dev1 }.count, 3)
        XCTAssertNotNil(p.connections[other])
        // All of dev1's busy: its new connection is refused rather than anyone else's closed.
        for id in p.connections.keys where p.connections[id]!.source == dev1 { p.mark(id, busy: true, now: 61) }
        XCTAssertNil(p.admit(dev1, now: 62))
        XCTAssertEqual(p.connections.count, 4)
    }

    /// A full pool admits a newcomer by closing an idle connection of the source holding
    /// the most, idle the longest; busy ones stay.
    func testAFullPoolClosesTheGreediestSourcesLongestIdle() throws {
        var p = pool()
        let lan = IPAddress("192.168.10.1")!
        let a = try (0..<3).map { t in try XCTUnwrap(p.admit(dev1, now: Double(t))).id }
        let b = try (3..<5).map { t in try XCTUnwrap(p.admit(dev2, now: Double(t))).id }
        _ = try XCTUnwrap(p.admit(lan, now: 5))
        p.mark(a[0], busy: true, now: 6)
        let third = try XCTUnwrap(p.admit(IPAddress("10.130.0.1")!, now: 7))
        XCTAssertEqual(third.close, [a[1]], "dev1 holds the most; a[0] is busy")
        XCTAssertEqual(p.connections.count, 6)
        let fourth = try XCTUnwrap(p.admit(IPAddress("10.130.0.2")!, now: 8))
        XCTAssertEqual(fourth.close, [a[2]], "dev1 and dev2 hold 2 each: the longest idle of theirs")
        XCTAssertFalse(p.mark(a[2], busy: true, now: 9), "a closed connection is out of the pool")
        let fifth = try XCTUnwrap(p.admit(IPAddress("10.130.0.3")!, now: 9))
        XCTAssertEqual(fifth.close, [b[0]], "now dev2 holds the most")
        for id in p.connections.keys { p.mark(id, busy: true, now: 10) }
        XCTAssertNil(p.admit(IPAddress("10.130.0.4")!, now: 11), "all busy: the newcomer is closed")
    }

    /// Idle timeout from the last answer, and a total lifetime however active.
    func testIdleTimeoutAndLifetime() throws {
        var p = pool()
        let id = try XCTUnwrap(p.admit(dev1, now: 100)).id
        XCTAssertEqual(p.waitUntil(id), 110)
        p.mark(id, busy: false, now: 215)
        XCTAssertEqual(p.waitUntil(id), 220, "the lifetime ends first")
        p.remove(id)
        XCTAssertNil(p.waitUntil(id))
    }
}
