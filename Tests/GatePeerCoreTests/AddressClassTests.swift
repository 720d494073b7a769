import XCTest
@testable import GatePeerCore

/// Issue 10 item 8: addresses that cannot work in a field are refused there, naming the
/// field; embedded-IPv4 addresses print as RFC 5952 section 5 says; derived values
/// (the MSS clamp from mtu) keep a floor.
final class AddressClassTests: XCTestCase {
    func testEmbeddedIPv4PrintsDotted() {
        // RFC 5952 section 5: mixed notation for the well-known embedded-IPv4 prefixes.
        XCTAssertEqual(IPAddress("::ffff:10.128.0.0")!.description, "::ffff:10.128.0.0")
        XCTAssertEqual(IPAddress("::ffff:a80:0")!.description, "::ffff:10.128.0.0")
        XCTAssertEqual(IPAddress("::ffff:0.0.0.0")!.description, "::ffff:0.0.0.0")
        XCTAssertEqual(IPAddress("::ffff:0:a80:1")!.description, "::ffff:0:10.128.0.1")  // IPv4-translated
        XCTAssertEqual(IPAddress("::10.128.0.1")!.description, "::10.128.0.1")  // IPv4-compatible, as inet_ntop
        // Not embedded: these keep plain hex.
        XCTAssertEqual(IPAddress("::1")!.description, "::1")
        XCTAssertEqual(IPAddress("::")!.description, "::")
        XCTAssertEqual(IPAddress("::ffff")!.description, "::ffff")
        XCTAssertEqual(IPAddress("1::ffff:a80:0")!.description, "1::ffff:a80:0")
        XCTAssertEqual(IPPrefix("::ffff:10.128.0.0/112")!.description, "::ffff:10.128.0.0/112")
    }

    func testClasses() {
        func c(_ s: String) -> AddressClass? { IPAddress(s)!.addressClass }
        XCTAssertEqual(c("::ffff:172.31.0.254"), .ipv4Mapped)
        XCTAssertEqual(c("::172.31.0.254"), .ipv4Compatible)
        XCTAssertEqual(c("0.0.0.0"), .unspecified)
        XCTAssertEqual(c("::"), .unspecified)
        XCTAssertEqual(c("127.0.0.2"), .loopback)
        XCTAssertEqual(c("::1"), .loopback)
        XCTAssertEqual(c("224.0.0.1"), .multicast)
        XCTAssertEqual(c("ff02::1"), .multicast)
        XCTAssertEqual(c("255.255.255.255"), .limitedBroadcast)
        XCTAssertEqual(c("fe80::1"), .ipv6LinkLocal)
        XCTAssertEqual(c("169.254.1.1"), .ipv4LinkLocal)
        XCTAssertNil(c("240.0.0.1"))  // Linux routes 240/4 as unicast
        XCTAssertNil(c("172.31.0.254"))
        XCTAssertNil(c("2001:db8::1"))
        XCTAssertNil(c("64:ff9b::c000:201"))  // NAT64 well-known prefix: routable
    }

    /// Each example validated before the fix; each is refused now at its own field.
    func testEveryAddressFieldRefusesWhatCannotWorkThere() {
        func paths(_ from: String, _ to: String, in text: String = labConfigText) -> [ConfigProblem] {
            problems(text.replacingOccurrences(of: from, with: to))
        }
        let cases: [(String, String, String, String)] = [
            ("\"172.31.0.254\"", "\"::ffff:172.31.0.254\"", "links[0].outerIpAddress", "IPv4-mapped"),
            ("\"172.31.0.254\"", "\"::172.31.0.254\"", "links[0].outerIpAddress", "IPv4-compatible"),
            ("\"100.64.152.4\"", "\"fe80::1\"", "links[0].peers[0].outerIpAddress", "link-local"),
            ("\"100.64.152.132\"", "\"127.0.0.1\"", "links[0].peers[1].outerIpAddress", "loopback"),
            ("10.255.255.254/9", "::ffff:10.255.255.254/105", "links[0].innerIpAddress", "IPv4-mapped"),
            ("192.168.10.0/24", "224.0.0.0/24", "links[0].routes[0].destination", "multicast"),
            ("192.168.10.0/24", "127.0.0.0/8", "links[0].routes[0].destination", "loopback"),
        ]
        for (from, to, path, word) in cases {
            let p = paths(from, to)
            XCTAssertTrue(p.contains { $0.path == path && $0.message.contains(word) && $0.message.contains("valid") },
                          "\(to) at \(path): \(p)")
        }
    }

    func testFilterAndIPsecAddressFields() {
        func filter(_ f: String) -> [ConfigProblem] {
            problems(labConfigText.replacingOccurrences(of: "\n  ]\n}", with: "\n  ],\n  \"filter\": \(f)\n}"))
        }
        XCTAssertEqual(filter(#"{"nat": "none"}"#), [])
        // A default route as a backend prefix marks every destination a backend and so
        // turns the outbound policy off.
        for whole in ["0.0.0.0/0", "::/0"] {
            let p = filter(#"{"nat": "none", "backendPrefixes": ["\#(whole)"]}"#)
            XCTAssertEqual(p.map(\.path), ["filter.backendPrefixes[0]"], "\(p)")
            XCTAssertTrue(p.first?.message.contains("every destination") ?? false, "\(p)")
        }
        let mapped = filter(#"{"nat": "none", "backendPrefixes": ["::ffff:172.31.0.0/120"]}"#)
        XCTAssertEqual(mapped.map(\.path), ["filter.backendPrefixes[0]"], "\(mapped)")
        let resolver = filter(#"{"nat": "none", "resolvers": ["::ffff:9.9.9.9"]}"#)
        XCTAssertEqual(resolver.map(\.path), ["filter.resolvers[0]"], "\(resolver)")
        let snat = filter(#"{"nat": "snat", "uplinkDevice": "eth1", "snatAddress": "169.254.3.3"}"#)
        XCTAssertEqual(snat.map(\.path), ["filter.snatAddress"], "\(snat)")
        let dest = filter(#"{"nat": "none", "outbound": [{"name": "g", "rules": [{"action": "deny", "destination": "::ffff:0.0.0.0/96"}]}]}"#)
        XCTAssertEqual(dest.map(\.path), ["filter.outbound[0].rules[0].destination"], "\(dest)")
    }

    /// Round 2, item 3: classes no forwarded packet carries are refused in every filter
    /// match field (a rule on them never matches); IPv4-translated and site-local are
    /// refused where gatepeer sends from or to the address; a prefix with host bits whose
    /// network is of a refused class gets the class problem, not a suggestion that the
    /// next run refuses.
    func testFilterMatchFieldsRefuseWhatNoForwardedPacketCarries() {
        func filter(_ f: String) -> [ConfigProblem] {
            problems(labConfigText.replacingOccurrences(of: "\n  ]\n}", with: "\n  ],\n  \"filter\": \(f)\n}"))
        }
        for bad in ["127.0.0.0/8", "ff00::/8", "fe80::/64", "224.0.0.0/4", "::1/128", "255.255.255.255/32", "0.0.0.0/32"] {
            let out = filter(#"{"nat": "none", "outbound": [{"name": "g", "sources": ["\#(bad)"], "rules": [{"action": "deny", "destination": "\#(bad)"}]}], "inbound": [{"from": "\#(bad)"}]}"#)
            for path in ["filter.outbound[0].sources[0]", "filter.outbound[0].rules[0].destination", "filter.inbound[0].from"] {
                XCTAssertTrue(out.contains { $0.path == path && $0.message.contains("valid") }, "\(bad) at \(path): \(out)")
            }
        }
        for bad in ["::ffff:0:1.2.3.4", "fec0::1"] {
            XCTAssertEqual(filter(#"{"nat": "snat", "uplinkDevice": "eth1", "snatAddress": "\#(bad)"}"#).map(\.path), ["filter.snatAddress"], bad)
            XCTAssertEqual(filter(#"{"nat": "none", "resolvers": ["\#(bad)"]}"#).map(\.path), ["filter.resolvers[0]"], bad)
        }
        // Issue 11: with a domain rule, a refused resolver is not also "required".
        let domainRule = #""outbound": [{"name": "g", "rules": [{"action": "allow", "domain": "api.example.com"}]}]"#
        XCTAssertEqual(filter(#"{"nat": "none", "resolvers": ["not-an-ip"], \#(domainRule)}"#).map(\.path), ["filter.resolvers[0]"])
        XCTAssertEqual(filter(#"{"nat": "none", "resolvers": "203.0.113.53", \#(domainRule)}"#).map(\.path), ["filter.resolvers"])
        XCTAssertTrue(filter(#"{"nat": "none", "resolvers": [], \#(domainRule)}"#).contains { $0.message.hasPrefix("is required") })
        let mapped = filter(#"{"nat": "none", "outbound": [{"name": "g", "rules": [{"action": "deny", "destination": "0:0:0:0:0:ffff:0a80:0/104"}]}]}"#)
        XCTAssertEqual(mapped.map(\.path), ["filter.outbound[0].rules[0].destination"], "\(mapped)")
        XCTAssertTrue(mapped.first?.message.contains("IPv4-mapped") ?? false, "\(mapped)")
        XCTAssertFalse(mapped.first?.message.contains("::ffff:10.0.0.0/104") ?? true, "suggests a refused value: \(mapped)")
        let loop = filter(#"{"nat": "none", "outbound": [{"name": "g", "rules": [{"action": "deny", "destination": "127.0.0.1/8"}]}]}"#)
        XCTAssertTrue(loop.first?.message.contains("loopback") ?? false, "\(loop)")
        // Ordinary prefixes, the whole space and a plain host-bits typo are as before.
        XCTAssertEqual(filter(#"{"nat": "none", "outbound": [{"name": "g", "sources": ["10.128.0.0/16"], "rules": [{"action": "deny", "destination": "0.0.0.0/0"}, {"action": "deny", "destination": "::/0"}]}], "inbound": [{"from": "2001:db8::/32"}]}"#), [])
        let typo = filter(#"{"nat": "none", "outbound": [{"name": "g", "rules": [{"action": "deny", "destination": "192.168.10.1/24"}]}]}"#)
        XCTAssertTrue(typo.first?.message.contains("host bits set; valid: the network address 192.168.10.0/24") ?? false, "\(typo)")
    }

    func testConfigPortRangesAreStrictDecimal() {
        func filter(_ f: String) -> [ConfigProblem] {
            problems(labConfigText.replacingOccurrences(of: "\n  ]\n}", with: "\n  ],\n  \"filter\": \(f)\n}"))
        }
        for bad in ["+80-+90", "080-090", "+443", "0443"] {
            let p = filter(#"{"nat": "none", "outbound": [{"name": "g", "rules": [{"action": "allow", "destination": "203.0.113.0/24", "protocol": "tcp", "ports": ["\#(bad)"]}]}]}"#)
            XCTAssertEqual(p.map(\.path), ["filter.outbound[0].rules[0].ports[0]"], bad)
        }
        let p = filter(#"{"nat": "none", "outbound": [{"name": "g", "rules": [{"action": "allow", "destination": "203.0.113.0/24", "protocol": "+6"}]}]}"#)
        XCTAssertEqual(p.map(\.path), ["filter.outbound[0].rules[0].protocol"], "\(p)")
    }

    func testMTUFloorKeepsTheMSSClampSane() {
        for bad in ["68", "575"] {
            let p = problems(labConfigText.replacingOccurrences(of: "\"name\": \"gp0\"", with: "\"name\": \"gp0\", \"mtu\": \(bad)"))
            XCTAssertEqual(p.map(\.path), ["links[0].mtu"], "\(p)")
            XCTAssertTrue(p.first?.message.contains("576..65535") ?? false, "\(p)")
        }
        XCTAssertNotNil(decodeOK(labConfigText.replacingOccurrences(of: "\"name\": \"gp0\"", with: "\"name\": \"gp0\", \"mtu\": 576")))
    }

    func testSuggestionsOnlyWhenClose() {
        let far = problems(labConfigText.replacingOccurrences(of: "\"name\": \"gp0\"", with: "\"name\": \"gp0\", \"colour\": 1"))
        XCTAssertEqual(far.map(\.path), ["links[0].colour"])
        XCTAssertFalse(far.first?.message.contains("did you mean") ?? true, "\(far)")
        // VNI is the field's standard term for what the config calls vxlanId.
        let vni = problems(labConfigText.replacingOccurrences(of: "\"name\": \"gp0\"", with: "\"name\": \"gp0\", \"vni\": 10"))
        XCTAssertEqual(vni.map(\.path), ["links[0].vni"])
        XCTAssertTrue(vni.first?.message.contains("did you mean \"vxlanId\"") ?? false, "\(vni)")
        XCTAssertFalse(vni.first?.message.contains("\"mtu\"?") ?? true, "\(vni)")
    }
}

/// Issue 10 item 8, derived values: without `mtu` the link's MTU comes from the underlay;
/// an underlay too narrow for the floor would give an MSS clamp below TCP's default.
final class DerivedMTUFloorTests: XCTestCase {
    func testUnderlayTooNarrowForTheFloorBlocksTheLink() {
        let config = decodeOK(labConfigText)!
        var observed = baseObserved()
        observed.links[1].mtu = 600  // 600 - 50 = 550 < 576
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers.count, 1, "\(plan.blockers)")
        XCTAssertTrue(plan.blockers.first?.hasPrefix("links[0].mtu: eth0 (MTU 600) minus 50 bytes of VXLAN overhead leaves 550, below 576") ?? false, "\(plan.blockers)")
        XCTAssertFalse(plan.changes.contains { if case .createLink = $0 { return true } else { return false } })
        observed.links[1].mtu = 626  // 576 exactly: fine
        XCTAssertEqual(Planner.plan(config: config, observed: observed).blockers, [])
    }
}
