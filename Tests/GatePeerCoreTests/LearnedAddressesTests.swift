import XCTest
@testable import GatePeerCore

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

/// How many addresses a name keeps and what a device may be told (issue 10 item 2).
final class LearnedAddressesTests: XCTestCase {
    func testTheCapHoldsPerFamilyInAnswerOrder() {
        var l = LearnedAddresses()
        let kept = l.merge(name: "api.example.com", answer: [(ip("192.0.2.3"), 60), (ip("192.0.2.1"), 60), (ip("192.0.2.2"), 60),
                                                             (ip("2001:db8::1"), 60), (ip("2001:db8::2"), 60)],
                           now: 100, slack: 300, cap: 2)
        XCTAssertEqual(kept, [ip("192.0.2.3"), ip("192.0.2.1"), ip("2001:db8::1"), ip("2001:db8::2")])
        XCTAssertEqual(Set(l.names["api.example.com"]!.map(\.address)), kept)
    }

    func testAddressesDevicesMayHoldAreNotDroppedForNewOnes() {
        var l = LearnedAddresses()
        l.merge(name: "n", answer: [(ip("192.0.2.1"), 60), (ip("192.0.2.2"), 60)], now: 100, slack: 300, cap: 2)
        // Within the TTL: the new address finds no room, the old ones stay.
        XCTAssertEqual(l.merge(name: "n", answer: [(ip("192.0.2.9"), 60), (ip("192.0.2.2"), 60)], now: 150, slack: 300, cap: 2), [ip("192.0.2.2")])
        XCTAssertEqual(Set(l.names["n"]!.map(\.address)), [ip("192.0.2.1"), ip("192.0.2.2")])
        let trim = l.trim(name: "n", now: 150, slack: 300)
        XCTAssertEqual(trim.keep, [ip("192.0.2.1"): 309, ip("192.0.2.2"): 359], "a second short of the kernel's timeout")
        XCTAssertEqual(trim.instead.map(\.address), [ip("192.0.2.2"), ip("192.0.2.1")])
        XCTAssertEqual(trim.instead.map(\.ttl), [60, 10], "what is left of the TTL, not the slack")
        // .1's TTL ran out at 160 (it lives on in its slack): it makes room; .2 is in this answer.
        XCTAssertEqual(l.merge(name: "n", answer: [(ip("192.0.2.9"), 60), (ip("192.0.2.2"), 60)], now: 170, slack: 300, cap: 2),
                       [ip("192.0.2.9"), ip("192.0.2.2")])
        XCTAssertEqual(Set(l.names["n"]!.map(\.address)), [ip("192.0.2.9"), ip("192.0.2.2")])
        XCTAssertEqual(l.trim(name: "n", now: 170, slack: 300).instead.count, 2)
    }
}
