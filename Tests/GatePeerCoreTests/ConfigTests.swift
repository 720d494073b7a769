import Foundation
import XCTest
@testable import GatePeerCore

let labConfigText = """
{
  "forwarding": true,
  "links": [
    {
      "name": "gp0",
      "underlayDevice": "eth0",
      "outerIpAddress": "172.31.0.254",
      "innerIpAddress": "10.255.255.254/9",
      "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"}, {"outerIpAddress": "100.64.152.132"}],
      "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]
    }
  ]
}
"""

func decodeOK(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> GatePeerConfig? {
    switch ConfigDecoder.decode(text) {
    case .success(let c): return c
    case .failure(let e): XCTFail("unexpected problems: \(e)", file: file, line: line); return nil
    }
}

func problems(_ text: String) -> [ConfigProblem] {
    if case .failure(let e) = ConfigDecoder.decode(text) { return e.problems }
    return []
}

final class ConfigTests: XCTestCase {
    func testDefaults() throws {
        let c = try XCTUnwrap(decodeOK(labConfigText))
        let l = c.links[0]
        XCTAssertTrue(c.forwarding)
        XCTAssertEqual(l.vxlanId, 10)
        XCTAssertEqual(l.port, 4789)
        XCTAssertEqual(l.sourcePortRange, PortRange(low: 4789, high: 4789))
        XCTAssertNil(l.mtu)
        XCTAssertTrue(l.learning)
        XCTAssertEqual(l.mac, MACAddress.derived(fromLinkName: "gp0"))
        XCTAssertEqual(l.deviceSubnet.description, "10.128.0.0/9")
        XCTAssertEqual(l.overhead, 50)
        XCTAssertEqual(l.peers.map(\.outerIpAddress.description), ["100.64.152.4", "100.64.152.132"])
        XCTAssertEqual(l.peers[0].innerIpAddress?.description, "10.255.255.1")
    }

    func testIPv6EverywhereParses() throws {
        let text = """
        {"links": [{"name": "gp6", "underlayDevice": "eth0", "outerIpAddress": "2001:db8:1::10",
          "innerIpAddress": "fd00:10::fffe/64", "peers": [{"outerIpAddress": "2001:db8:2::4"}],
          "routes": [{"destination": "fd00:99::/48", "via": "fd00:10::7"}], "vxlanId": 16777215, "mtu": 1400}]}
        """
        let c = try XCTUnwrap(decodeOK(text))
        XCTAssertEqual(c.links[0].overhead, 70)
        XCTAssertEqual(c.links[0].routes[0].destination.description, "fd00:99::/48")
    }

    func testEveryProblemReportedAtOnce() {
        let text = """
        {"fowarding": true, "links": [{"name": "this-name-is-too-long", "vxlanId": 0, "port": 70000,
          "underlayDevice": "eth0", "outerIpAddress": "300.1.1.1", "innerIpAddress": "10.128.0.0/9",
          "peers": [], "routes": [{"destination": "192.168.10.1/24", "via": "10.0.0.1"}]}]}
        """
        let paths = Set(problems(text).map(\.path))
        for p in ["fowarding", "links[0].name", "links[0].vxlanId", "links[0].port", "links[0].outerIpAddress",
                  "links[0].innerIpAddress", "links[0].peers", "links[0].routes[0].destination"] {
            XCTAssertTrue(paths.contains(p), "missing \(p) in \(paths)")
        }
    }

    func testUnknownFieldSuggestsTheRealOne() {
        let text = labConfigText.replacingOccurrences(of: "\"name\"", with: "\"vxlanID\": 10, \"name\"")
        let p = problems(text)
        XCTAssertEqual(p.count, 1)
        XCTAssertEqual(p.first?.path, "links[0].vxlanID")
        XCTAssertTrue(p.first?.message.contains("did you mean \"vxlanId\"") ?? false, "\(p)")
    }

    func testCrossLinkRules() {
        func two(_ second: String) -> [String] {
            let first = #"{"name": "a", "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4"}]}"#
            return problems("{\"links\": [\(first), \(second)]}").map(\.description)
        }
        let collide = two(#"{"name": "b", "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.1.0.1/16", "peers": [{"outerIpAddress": "100.64.1.1"}]}"#)
        XCTAssertTrue(collide.contains { $0.hasPrefix("links[1]: vxlanId 10, port 4789") }, "\(collide)")
        let overlap = two(#"{"name": "b", "vxlanId": 11, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.200.0.1/16", "peers": [{"outerIpAddress": "100.64.1.1"}]}"#)
        XCTAssertTrue(overlap.contains { $0.hasPrefix("links[1].innerIpAddress: device subnet 10.200.0.0/16 overlaps") }, "\(overlap)")
        let dupName = two(#"{"name": "a", "vxlanId": 11, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.1.0.1/16", "peers": [{"outerIpAddress": "100.64.1.1"}]}"#)
        XCTAssertTrue(dupName.contains { $0.hasPrefix("links[1].name:") }, "\(dupName)")
        let fine = two(#"{"name": "b", "vxlanId": 11, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.1.0.1/16", "peers": [{"outerIpAddress": "100.64.1.1"}]}"#)
        XCTAssertEqual(fine, [])
    }

    func testInterfaceAddressRules() {
        func inner(_ s: String) -> [String] {
            problems(labConfigText.replacingOccurrences(of: "10.255.255.254/9", with: s)).map(\.path)
        }
        XCTAssertEqual(inner("10.128.0.0/9"), ["links[0].innerIpAddress"])
        XCTAssertEqual(inner("10.255.255.255/9"), ["links[0].innerIpAddress"])
        XCTAssertEqual(inner("10.255.255.254"), ["links[0].innerIpAddress"])
        XCTAssertEqual(inner("10.255.255.254/33"), ["links[0].innerIpAddress"])
        XCTAssertEqual(Set(inner("10.129.0.1/31")), ["links[0].peers[0].innerIpAddress", "links[0].routes[0].via"])
    }
}
