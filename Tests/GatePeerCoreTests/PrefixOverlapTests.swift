import XCTest
@testable import GatePeerCore

/// The sweep that replaced the pairwise overlap checks (issue 10 item 6) finds what
/// comparing every pair finds, and the decoder reports a repeated link once per check.
final class PrefixOverlapTests: XCTestCase {
    func testTheSweepAgreesWithComparingEveryPair() {
        // A fresh seed each run, named in every failure; GATEPEER_TEST_SEED replays one
        // (SystemRandomNumberGenerator left a failure that could not be replayed).
        let seed = ProcessInfo.processInfo.environment["GATEPEER_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        for round in 0..<200 {
            // Few distinct bits, so nesting, equal prefixes and both families all occur.
            let items: [PrefixOverlap.Item] = (0..<Int.random(in: 1...30, using: &rng)).map { _ in
                let v6 = Bool.random(using: &rng)
                let a = v6 ? IPAddress("2001:db8:\(String(Int.random(in: 0...3, using: &rng), radix: 16))::")!
                           : IPAddress("10.\(Int.random(in: 0...3, using: &rng) * 64).\(Int.random(in: 0...1, using: &rng) * 128).0")!
                let length = v6 ? Int.random(in: 30...48, using: &rng) : Int.random(in: 8...25, using: &rng)
                return .init(prefix: IPPrefix(address: a, length: length)!.network, owner: Int.random(in: 0...6, using: &rng),
                             member: Int.random(in: 0...3, using: &rng) > 0)
            }
            let owners = PrefixOverlap.owners(items)
            for (k, item) in items.enumerated() {
                for except in [-1, item.owner] {
                    let expected = items.filter { $0.member && $0.owner != except && $0.prefix.overlaps(item.prefix) }.map(\.owner).min()
                    XCTAssertEqual(owners[k].first(except: except), expected, "seed \(seed), round \(round), item \(k) \(item.prefix) except \(except): \(items)")
                }
            }
        }
    }

    func testARepeatedLinkIsReportedOncePerCheck() {
        let link = #"{"name": "gp0", "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4"}], "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]}"#
        let found = problems(#"{"links": ["# + Array(repeating: link, count: 3).joined(separator: ",") + "]}").map(\.description)
        XCTAssertEqual(found, [1, 2].flatMap { i in [
            "links[\(i)].name: \"gp0\" is already the name of links[0]; names must be unique",
            "links[\(i)]: vxlanId 10, port 4789 and an IPv4 outer address are the same as links[0]'s; the kernel cannot hold both (EEXIST) even with different outerIpAddress: give one link another vxlanId or port",
            "links[\(i)].innerIpAddress: device subnet 10.128.0.0/9 overlaps links[0]'s 10.128.0.0/9; each VPG needs its own subnet",
            "links[\(i)].routes[0].destination: 192.168.10.0/24 is already routed by links[0].routes[0]",
        ] })
    }

    func testRoutesIntoAnotherLinkAreNamedOnce() {
        // links[1] routes a prefix holding links[0]'s outer and peer addresses and its subnet.
        let a = #"{"name": "a", "underlayDevice": "b", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.1.0.1/16", "peers": [{"outerIpAddress": "172.31.0.4"}]}"#
        let b = #"{"name": "b", "vxlanId": 11, "underlayDevice": "eth0", "outerIpAddress": "192.0.2.1", "innerIpAddress": "10.2.0.1/16", "peers": [{"outerIpAddress": "192.0.2.4"}], "routes": [{"destination": "172.31.0.0/24", "via": "10.2.0.7"}, {"destination": "10.1.0.0/24", "via": "10.2.0.7"}]}"#
        XCTAssertEqual(problems(#"{"links": ["# + a + "," + b + "]}").map(\.description), [
            "links[0].underlayDevice: \"b\" is links[1].name; a tunnel cannot run over another tunnel of ours",
            "links[1].routes[0].destination: 172.31.0.0/24 contains 172.31.0.254, an outer address of links[0]; that tunnel's packets would be routed into this one",
            "links[1].routes[1].destination: 10.1.0.0/24 overlaps links[0]'s device subnet 10.1.0.0/16",
        ])
    }

    func testReportsAreBoundedWithACount() {
        let e = ConfigError(problems: (0..<60).map { ConfigProblem("p\($0)", "m") }, more: 940)
        let lines = e.report(indent: "  ")
        XCTAssertEqual(lines.count, ConfigError.reportLimit + 1)
        XCTAssertEqual(lines.last, "  ... and 950 more problem(s)")
        XCTAssertEqual(e.count, 1000)
    }

    func testEchoEscapesAndBounds() {
        XCTAssertEqual(Echo.value("a\u{1b}[31m\u{0}\u{7f}\u{9b}\u{202e}\u{2066}\u{feff}\"\\b"), #"a\u001b[31m\u0000\u007f\u009b\u202e\u2066\ufeff\"\\b"#)
        XCTAssertEqual(Echo.value(String(repeating: "é", count: 100)), String(repeating: "é", count: 64) + "... (200 bytes)")
        XCTAssertEqual(Echo.line("plain \"text\" stays"), "plain \"text\" stays")
        XCTAssertEqual(Echo.line("two\nlines"), #"two\u000alines"#)
        XCTAssertEqual(Echo.text("two\nlines\u{1b}"), "two\n" + #"lines\u001b"#)
        XCTAssertLessThan(Echo.line(String(repeating: "x", count: 1 << 20)).utf8.count, Echo.lineLimit + 32)
        // JSON output escapes the same characters (still JSON: the escapes decode back).
        XCTAssertEqual(JSONOut.string("a\u{9b}\u{202e}\u{1b}\u{7f}").render(), #""a\u009b\u202e\u001b\u007f""#)
    }
}
