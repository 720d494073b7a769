import Foundation
import XCTest
@testable import GatePeerCore

/// Golden renders of table inet gatepeer: the skeleton text nft parses, the full text
/// (`filter show`), the staging transaction with grant and learned elements inline, and
/// the fingerprints, for configs that between them reach every chain, set and map the
/// renderer makes. Captured before the table model replaced the line-by-line renderer:
/// the model must render the same bytes (the fingerprints in the kernel depend on them).
/// GATEPEER_UPDATE_GOLDEN=1 rewrites them.
final class NftGoldenTests: XCTestCase {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let netconfig = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("netconfig")

    /// Two links (IPv4 and IPv6 outer), SNAT of backend traffic, explicit inbound rules
    /// with ports, two groups with nested sources, domain rules, bundles with port and
    /// protocol levels, IPv6 destinations, SNAT on the uplink, drop logging off.
    static let rich = """
    {"forwarding": true,
     "links": [
      {"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
       "innerIpAddress": "10.255.255.254/9", "mtu": 1400, "snatBackendTraffic": true,
       "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"},
                 {"outerIpAddress": "100.64.152.132", "innerIpAddress": "10.255.255.2"}],
       "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]},
      {"name": "gp1", "vxlanId": 11, "port": 4790, "underlayDevice": "eth1", "outerIpAddress": "2001:db8:ffff::1",
       "innerIpAddress": "fd00:1::1/64",
       "peers": [{"outerIpAddress": "2001:db8:ffff::2", "innerIpAddress": "fd00:1::2"}]}],
     "filter": {"uplinkDevice": "uplink", "nat": "snat", "snatAddress": "198.51.100.1", "logDrops": false,
      "backendPrefixes": ["172.31.0.0/24", "fd00:99::/64"],
      "resolvers": ["203.0.113.53"],
      "inbound": [{"from": "172.31.0.0/24", "protocol": "tcp", "ports": [22, "8000-8080", 8081]},
                  {"from": "fd00:99::/64"}, {"from": "172.31.0.7/32", "protocol": "udp"}],
      "outbound": [
       {"name": "fleet", "sources": ["10.128.0.0/16", "10.128.5.0/24", "fd00:1::/64"], "default": "deny", "rules": [
         {"action": "allow", "destination": "203.0.113.0/24", "protocol": "tcp", "ports": [443, "8000-8080"]},
         {"action": "allow", "destination": "203.0.113.10/32", "protocol": "icmp"},
         {"action": "deny", "destination": "203.0.113.10/32", "protocol": "tcp", "ports": [22]},
         {"action": "allow", "domain": "*.example.com", "protocol": "tcp", "ports": [443]},
         {"action": "allow", "domain": "api.example.net"},
         {"action": "allow", "destination": "2001:db8:5::/48", "protocol": "udp", "ports": [53]},
         {"action": "deny", "destination": "198.51.100.0/24"}]},
       {"name": "lab", "sources": ["10.129.0.0/16"], "default": "allow", "rules": [
         {"action": "deny", "destination": "192.0.2.0/24", "protocol": "udp"},
         {"action": "deny", "domain": "blocked.example.org", "protocol": "udp", "ports": [53]}]}]}}
    """

    static func shardConfig() -> String {
        let denies = (0..<(NftRuleset.shardLimit + 10)).map { "{\"action\": \"deny\", \"destination\": \"20.\($0 / 256).\($0 % 256).0/24\"}" }
        return """
        {"links": [{"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
          "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"}]}],
         "filter": {"uplinkDevice": "uplink", "mssClamp": false, "backendPrefixes": ["172.31.0.0/24"],
          "outbound": [{"name": "fleet", "default": "allow", "rules": [\(denies.joined(separator: ", "))]}]}}
        """
    }

    static func file(_ name: String) throws -> String {
        try String(contentsOf: netconfig.appendingPathComponent(name), encoding: .utf8)
    }

    /// Grant elements of every set kind and family, and learned elements of every domain map.
    static func extras(_ config: GatePeerConfig) -> [NftElement] {
        var out = GrantState.elements([
            Grant(from: IPPrefix("10.128.0.0/16")!, to: IPPrefix("192.0.2.0/24")!, expires: 160),
            Grant(from: IPPrefix("10.128.1.0/24")!, to: IPPrefix("192.0.2.7/32")!, protocolMatch: .number(6), ports: [PortRange(low: 22, high: 22)], expires: 200),
            Grant(from: IPPrefix("fd00:1::/64")!, to: IPPrefix("2001:db8::/32")!, protocolMatch: .number(17), expires: 300),
        ], nowMs: 100_000)
        let learned = LearnedAddresses(names: ["www.example.com": [.init(address: IPAddress("203.0.113.77")!, expires: 500)],
                                               "api.example.net": [.init(address: IPAddress("2001:db8:7::1")!, expires: 400)],
                                               "blocked.example.org": [.init(address: IPAddress("192.0.2.99")!, expires: 450)]])
        out += learned.elements(config, nowMs: 100_000)
        return out
    }

    static func render(_ config: GatePeerConfig, mtus: [String: Int], live: [LiveTunnel] = []) throws -> String {
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: mtus, live: live))
        var s = "## fingerprint \(rs.fingerprint) skeleton \(rs.skeletonFingerprint) elements \(rs.elementCount)\n"
        s += "## maps " + rs.maps.map { "\($0.name)=\($0.intervals.count)" }.joined(separator: " ") + "\n"
        s += "## text\n" + rs.text
        s += "## fullText\n" + rs.fullText + "\n"
        s += "## staging\n" + (rs.stagingTransaction(extras: extras(config)) ?? "nil\n")
        return s
    }

    func check(_ label: String, _ json: String, mtus: [String: Int] = [:], live: [LiveTunnel] = []) throws {
        let config = try ConfigDecoder.decode(json).get()
        let text = try Self.render(config, mtus: mtus, live: live)
        let golden = Self.golden.appendingPathComponent("nft-\(label).txt")
        if ProcessInfo.processInfo.environment["GATEPEER_UPDATE_GOLDEN"] == "1" {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        let want = try String(contentsOf: golden, encoding: .utf8)
        if text != want {
            // The first differing line, not two 100 kB strings.
            let a = text.split(separator: "\n", omittingEmptySubsequences: false), b = want.split(separator: "\n", omittingEmptySubsequences: false)
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            XCTFail("\(golden.lastPathComponent): line \(i + 1): got \(i < a.count ? String(a[i]) : "<end>"), want \(i < b.count ? String(b[i]) : "<end>")")
        }
    }

    func testLabFilter() throws { try check("lab-filter", try Self.file("lab-filter.json"), mtus: ["gp0": 1450]) }
    func testExample() throws { try check("example", try Self.file("gatepeer.example.json")) }
    func testIPsecSite() throws { try check("ipsec-site", try Self.file("ipsec-site.json"), mtus: ["gp0": 1450]) }
    func testLinksOnlyWithLiveTunnel() throws {
        try check("links-only", try Self.file("lab.json"), mtus: ["gp0": 1450],
                  live: [LiveTunnel(link: 0, port: 8472, vni: 77, family: .v4, underlay: "eth9")])
    }
    func testRich() throws { try check("rich", Self.rich, mtus: ["gp0": 1400, "gp1": 1430]) }
    func testShards() throws { try check("shards", Self.shardConfig()) }
}
