import XCTest
@testable import GatePeerCore

/// The verdict-map elements loaded for learned addresses: when two domain rules of a
/// group give one key (address, protocol, port) opposite actions, the deny rule's chain
/// is the element's target whatever the rule order (filter.md: deny wins), and `filter
/// check` names that same rule.
final class LearnedElementsTests: XCTestCase {
    func config(_ rules: [String]) -> GatePeerConfig? {
        decodeOK("""
        {"links": [{"name": "gp0", "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9",
           "peers": [{"outerIpAddress": "100.64.152.4"}]}],
         "filter": {"uplinkDevice": "uplink", "resolvers": ["203.0.113.53"],
           "outbound": [{"name": "staff", "default": "allow", "rules": [\(rules.joined(separator: ", "))]}]}}
        """)
    }

    let learned = LearnedAddresses(names: ["api.example.com": [.init(address: IPAddress("203.0.113.7")!, expires: 200)],
                                           "www.example.com": [.init(address: IPAddress("203.0.113.7")!, expires: 900)]])

    func elements(_ c: GatePeerConfig) -> [String] {
        learned.elements(c, nowMs: 100_000).map { "\($0.set) { \($0.text) }" }
    }

    func verdict(_ c: GatePeerConfig, _ proto: UInt8?, _ port: UInt16?) -> String {
        let v = FilterCheck.check(c, source: IPAddress("10.128.0.5")!, destination: IPAddress("203.0.113.7")!, proto: proto, port: port,
                                  learned: learned, now: 100)
        return "\(v.allowed ? "allow" : "deny") \(v.decidedBy)"
    }

    func testDenyWinsOnOneKeyInEitherOrder() throws {
        let allow = #"{"action": "allow", "domain": "api.example.com"}"#, deny = #"{"action": "deny", "domain": "www.example.com"}"#
        let allowFirst = try XCTUnwrap(config([allow, deny]))
        // One element for the shared key, to the deny rule's chain, with the deny's own expiry.
        XCTAssertEqual(elements(allowFirst), ["g0_dom4a { 203.0.113.7 timeout 800s expires 800s : goto r0_1 }"])
        XCTAssertEqual(verdict(allowFirst, 6, 443), "deny filter.outbound[0].rules[1]")
        let denyFirst = try XCTUnwrap(config([deny, allow]))
        XCTAssertEqual(elements(denyFirst), ["g0_dom4a { 203.0.113.7 timeout 800s expires 800s : goto r0_0 }"])
        XCTAssertEqual(verdict(denyFirst, 6, 443), "deny filter.outbound[0].rules[0]")
    }

    func testDenyWinsForPortAndProtocolKeysToo() throws {
        let c = try XCTUnwrap(config([
            #"{"action": "allow", "domain": "api.example.com", "protocol": "tcp", "ports": [443]}"#,
            #"{"action": "deny", "domain": "www.example.com", "protocol": "tcp", "ports": [443]}"#,
            #"{"action": "deny", "domain": "api.example.com", "protocol": "udp"}"#,
            #"{"action": "allow", "domain": "www.example.com", "protocol": "udp"}"#,
        ]))
        XCTAssertEqual(elements(c), [
            "g0_dom4 { 203.0.113.7 . 6 . 443 timeout 800s expires 800s : goto r0_1 }",
            "g0_dom4p { 203.0.113.7 . 17 timeout 100s expires 100s : goto r0_2 }",
        ])
        XCTAssertEqual(verdict(c, 6, 443), "deny filter.outbound[0].rules[1]")
        XCTAssertEqual(verdict(c, 17, 53), "deny filter.outbound[0].rules[2]")
        XCTAssertEqual(verdict(c, 6, 80), "allow filter.outbound[0].default")
    }

    /// Same action on one key: one element, the later expiry, the first rule's chain.
    func testSameActionKeepsTheLaterExpiry() throws {
        let c = try XCTUnwrap(config([#"{"action": "allow", "domain": "api.example.com"}"#, #"{"action": "allow", "domain": "www.example.com"}"#]))
        XCTAssertEqual(elements(c), ["g0_dom4a { 203.0.113.7 timeout 800s expires 800s : goto r0_0 }"])
    }
}
