import XCTest
@testable import GatePeerCore

final class IPTests: XCTestCase {
    func testParseAndFormatRoundTrip() {
        let cases: [(String, String)] = [
            ("10.255.255.254", "10.255.255.254"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
            ("2001:db8::1", "2001:db8::1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::", "::"), ("::1", "::1"),
            ("fe80::", "fe80::"), ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"), ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"), ("2001:0:0:1:1:0:0:1", "2001::1:1:0:0:1"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("2001:db8::", "2001:db8::"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(IPAddress(input)?.description, expected, input)
        }
    }

    func testRejectsMalformed() {
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", "2001:db8:::1",
                    "1:2:3:4:5:6:7:8:9", "12345::1", "::g", "1::2::3", "1:2:3:4:5:6:7", " 1.2.3.4", "1.2.3.4/24"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testBytesRoundTrip() {
        for s in ["192.0.2.1", "2001:db8::abcd:1"] {
            let a = IPAddress(s)!
            XCTAssertEqual(IPAddress(bytes: a.bytes), a)
        }
        XCTAssertEqual(IPAddress("10.1.2.3")!.bytes, [10, 1, 2, 3])
    }

    func testPrefixMath() {
        let table: [(String, String, Bool)] = [  // prefix, address, contains
            ("10.128.0.0/9", "10.128.0.11", true), ("10.128.0.0/9", "10.255.255.255", true),
            ("10.128.0.0/9", "10.127.255.255", false), ("0.0.0.0/0", "203.0.113.7", true),
            ("192.0.2.1/32", "192.0.2.1", true), ("192.0.2.1/32", "192.0.2.2", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "2001:db8::1", true), ("2001:db8::1/128", "2001:db8::1", true),
            ("2001:db8::/64", "2001:db8:0:0:ffff::", true), ("2001:db8::/65", "2001:db8:0:0:8000::", false),
            ("10.0.0.0/8", "2001:db8::1", false),
        ]
        for (p, a, want) in table {
            XCTAssertEqual(IPPrefix(p)!.contains(IPAddress(a)!), want, "\(p) contains \(a)")
        }
        XCTAssertEqual(IPPrefix("10.255.255.254/9")!.network.description, "10.128.0.0/9")
        XCTAssertEqual(IPPrefix("10.255.255.254/9")!.lastAddress.description, "10.255.255.255")
        XCTAssertEqual(IPPrefix("2001:db8::1:2/64")!.network.description, "2001:db8::/64")
        XCTAssertTrue(IPPrefix("192.168.10.1/24")!.hasHostBits)
        XCTAssertFalse(IPPrefix("192.168.10.0/24")!.hasHostBits)
        XCTAssertFalse(IPPrefix("0.0.0.0/0")!.hasHostBits)
    }

    func testOverlap() {
        let table: [(String, String, Bool)] = [
            ("10.128.0.0/9", "10.0.0.0/8", true), ("10.128.0.0/9", "10.0.0.0/9", false),
            ("10.128.0.0/9", "10.200.0.0/16", true), ("192.168.10.0/24", "192.168.11.0/24", false),
            ("0.0.0.0/0", "192.0.2.0/24", true), ("2001:db8::/48", "2001:db8:0:1::/64", true),
            ("2001:db8::/48", "2001:db8:1::/48", false), ("10.0.0.0/8", "::/0", false),
        ]
        for (a, b, want) in table {
            XCTAssertEqual(IPPrefix(a)!.overlaps(IPPrefix(b)!), want, "\(a) vs \(b)")
            XCTAssertEqual(IPPrefix(b)!.overlaps(IPPrefix(a)!), want, "\(b) vs \(a)")
        }
    }

    func testPrefixParseErrors() {
        XCTAssertEqual(IPPrefix.parse("10.0.0.1"), .failure(.missingLength))
        XCTAssertEqual(IPPrefix.parse("10.0.0.0/33"), .failure(.badLength(maximum: 32)))
        XCTAssertEqual(IPPrefix.parse("2001:db8::/129"), .failure(.badLength(maximum: 128)))
        XCTAssertEqual(IPPrefix.parse("10.0.0.0/08"), .failure(.badLength(maximum: 32)))
        XCTAssertEqual(IPPrefix.parse("10.0.0/8"), .failure(.badAddress))
        XCTAssertEqual(try? IPPrefix.parse("10.0.0.1", bareAddressIsHost: true).get().length, 32)
    }

    func testDerivedMACIsStableLocalUnicast() {
        let a = MACAddress.derived(fromLinkName: "gp0")
        XCTAssertEqual(a, MACAddress.derived(fromLinkName: "gp0"))
        XCTAssertNotEqual(a, MACAddress.derived(fromLinkName: "gp1"))
        XCTAssertEqual(a.bytes[0] & 0x03, 0x02, "locally administered unicast")
        XCTAssertEqual(MACAddress("02:11:22:33:44:55")?.description, "02:11:22:33:44:55")
        XCTAssertNil(MACAddress("02:11:22:33:44"))
    }
}
