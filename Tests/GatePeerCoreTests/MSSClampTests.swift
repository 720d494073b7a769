import Foundation
import XCTest
@testable import GatePeerCore

/// The rendered mss_clamp chain (issue 10 item 1): every forwarded SYN is clamped to what
/// its route carries, whatever interface and family it leaves by; SYNs out of a tunnel
/// also to the tunnel MTU. MSSLabTests shows the same on the wire.
final class MSSClampTests: XCTestCase {
    var config: GatePeerConfig!
    override func setUpWithError() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("netconfig/lab-filter.json")
        config = try XCTUnwrap(decodeOK(try String(contentsOf: url, encoding: .utf8)))
    }

    /// The rules of chain mss_clamp in the rendered table, without its type line.
    static func clampRules(_ c: GatePeerConfig, mtus: [String: Int]) throws -> [String]? {
        let text = try XCTUnwrap(NftRenderer.render(c, mtus: mtus)).text
        guard let start = text.range(of: "  chain mss_clamp {\n") else { return nil }
        let lines = text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).prefix { $0 != "  }" }
        return lines.dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func testEveryForwardedSYNIsClampedToItsRouteAndTunnelSYNsToTheTunnel() throws {
        let rules = try XCTUnwrap(try Self.clampRules(config, mtus: ["gp0": 1450]))
        XCTAssertEqual(rules, [
            "iifname \"gp0\" meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1410",
            "iifname \"gp0\" meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size set 1390",
            // No interface and no family: the uplink, an IPsec SA, a narrow link, a tunnel; IPv4 and IPv6.
            "tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu",
        ])
        // The plan compares the kernel's rule count with the same text.
        XCTAssertEqual(NftRenderer.render(config, mtus: ["gp0": 1450])?.chainRules["mss_clamp"]?.rules, 3)
    }

    func testWithoutAKnownTunnelMTUTheRouteClampStays() throws {
        XCTAssertEqual(try Self.clampRules(config, mtus: [:]), ["tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu"])
    }

    /// A config with links and no filter section (netconfig/ipsec-site.json has none) still
    /// forwards devices' traffic, to an IPsec site for one: the same clamp, since `mssClamp`
    /// defaults to true.
    func testLinksWithoutAFilterSectionAreClampedToo() throws {
        var plain = config!
        plain.filter = nil
        XCTAssertEqual(try Self.clampRules(plain, mtus: ["gp0": 1450]), try Self.clampRules(config, mtus: ["gp0": 1450]))
        XCTAssertEqual(NftRenderer.render(plain, mtus: ["gp0": 1450])?.chainRules["mss_clamp"]?.rules, 3)
        XCTAssertNil(NftRenderer.render(GatePeerConfig(forwarding: true, links: [])), "no links, no filter: no table")
    }

    func testMSSClampOffRendersNoChain() throws {
        var off = config!
        off.filter?.mssClamp = false
        XCTAssertNil(try Self.clampRules(off, mtus: ["gp0": 1450]))
        XCTAssertFalse(try XCTUnwrap(NftRenderer.render(off)).text.contains("maxseg"))
    }
}

/// IPsec sites in the mss_clamp chain (issue 10 item 1, round 3): SYNs to or from a site's
/// remote subnets are clamped to the site's MSS in both directions, whatever route the
/// kernel finds back to the sender (with kernel XFRM policies the route back to a site's
/// host is the plain uplink, so `rt mtu` alone leaves the site -> device SYN too high).
final class MSSClampIPsecTests: XCTestCase {
    func siteConfig(_ edit: (inout [String: Any]) -> Void = { _ in }) throws -> GatePeerConfig {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("netconfig/ipsec-site.json")
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&doc)
        return try XCTUnwrap(decodeOK(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)))
    }

    /// The lines of the rendered table from `  set NAME {` through its closing brace.
    func setBlock(_ text: String, _ name: String) -> [String]? {
        let lines = text.split(separator: "\n").map(String.init)
        guard let i = lines.firstIndex(of: "  set \(name) {"), let end = lines[i...].firstIndex(of: "  }") else { return nil }
        return Array(lines[i...end])
    }

    /// netconfig/ipsec-site.json: policy site "hq" (remote 192.168.50.0/24, mtu 1436 by
    /// default, so MSS 1396) and route site "branch" (remote selectors 0.0.0.0/0).
    func testAPolicySiteIsClampedToItsMSSBothWays() throws {
        let config = try siteConfig()
        XCTAssertEqual(config.ipsec?.sites.first?.effectiveMSS, 1396)
        let rules = try XCTUnwrap(try MSSClampTests.clampRules(config, mtus: ["gp0": 1450]))
        XCTAssertEqual(rules, [
            "iifname \"gp0\" meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1410",
            "iifname \"gp0\" meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size set 1390",
            // To the site (device -> site) and from it (site -> device).
            "ip daddr @ipsec0_remote4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1396",
            "ip saddr @ipsec0_remote4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1396",
            // The route site's 0.0.0.0/0 selectors name no networks: what is routed into its
            // XFRM interface is clamped by `rt mtu`, in both directions.
            "tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu",
        ])
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: ["gp0": 1450]))
        XCTAssertEqual(setBlock(rs.text, "ipsec0_remote4"),
                       ["  set ipsec0_remote4 {", "    type ipv4_addr", "    flags interval",
                        "    elements = { 192.168.50.0-192.168.50.255 }", "  }"])
        XCTAssertNil(setBlock(rs.text, "ipsec1_remote4"), "route site with 0.0.0.0/0: no set")
        XCTAssertEqual(rs.chainRules["mss_clamp"]?.rules, 5)
    }

    /// Both families, an explicit `mss`, several subnets, a route site with named remote
    /// networks, and a filter section: every site's subnets, each family in its own set.
    func testEverySiteAndFamilyWithAFilterSection() throws {
        let lab = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("netconfig/lab-filter.json")
        let filter = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: lab)) as? [String: Any])["filter"]
        let config = try siteConfig { doc in
            doc["filter"] = filter
            var ipsec = doc["ipsec"] as! [String: Any]
            var sites = ipsec["sites"] as! [[String: Any]]
            var remote = sites[0]["remote"] as! [String: Any]
            remote["subnets"] = ["192.168.50.0/24", "192.168.51.0/24", "fd00:50::/48"]
            sites[0]["remote"] = remote
            // Selectors pair within one family: an IPv6 remote subnet needs an IPv6 local one.
            var local = sites[0]["local"] as! [String: Any]
            local["subnets"] = (local["subnets"] as! [String]) + ["fd00:10::/48"]
            sites[0]["local"] = local
            sites[0]["mss"] = 1300
            sites[1]["remote"] = ["address": "203.0.113.9", "subnets": ["172.20.0.0/16"]]
            ipsec["sites"] = sites
            doc["ipsec"] = ipsec
        }
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: ["gp0": 1450]))
        let rules = try XCTUnwrap(try MSSClampTests.clampRules(config, mtus: ["gp0": 1450]))
        let mss2 = try XCTUnwrap(config.ipsec?.sites[1].effectiveMSS)
        XCTAssertEqual(Array(rules.dropFirst(2).dropLast()), [
            "ip daddr @ipsec0_remote4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1300",
            "ip saddr @ipsec0_remote4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1300",
            "ip6 daddr @ipsec0_remote6 tcp flags & (syn | rst) == syn tcp option maxseg size set 1300",
            "ip6 saddr @ipsec0_remote6 tcp flags & (syn | rst) == syn tcp option maxseg size set 1300",
            "ip daddr @ipsec1_remote4 tcp flags & (syn | rst) == syn tcp option maxseg size set \(mss2)",
            "ip saddr @ipsec1_remote4 tcp flags & (syn | rst) == syn tcp option maxseg size set \(mss2)",
        ])
        XCTAssertEqual(setBlock(rs.text, "ipsec0_remote4")?[3], "    elements = { 192.168.50.0-192.168.51.255 }")
        XCTAssertEqual(setBlock(rs.text, "ipsec0_remote6")?[3], "    elements = { fd00:50::-fd00:50:0:ffff:ffff:ffff:ffff:ffff }")
        XCTAssertEqual(setBlock(rs.text, "ipsec1_remote4")?[3], "    elements = { 172.20.0.0-172.20.255.255 }")
        XCTAssertNil(setBlock(rs.text, "ipsec1_remote6"), "no IPv6 subnet, no set")

        var off = config
        off.filter?.mssClamp = false
        let offText = try XCTUnwrap(NftRenderer.render(off, mtus: ["gp0": 1450])).text
        XCTAssertFalse(offText.contains("maxseg") || offText.contains("ipsec0_remote"), "mssClamp false: no clamp, no site sets")
    }

    /// A route-based site's XFRM interface starts at 1500 bytes: `rt mtu` reads that, not
    /// the site's `mtu`, unless the interface is made with it. The render hint says how.
    func testTheXFRMInterfaceHintSetsTheSiteMTU() throws {
        let config = try siteConfig { doc in
            var ipsec = doc["ipsec"] as! [String: Any]
            var sites = ipsec["sites"] as! [[String: Any]]
            sites[1]["mtu"] = 1400
            ipsec["sites"] = sites
            doc["ipsec"] = ipsec
        }
        let site = try XCTUnwrap(config.ipsec?.sites[1])
        for format in IPsecFormat.allCases where format != .sheet {
            guard case .success(let files) = IPsecRender.render(site, format: format, side: .local, key: Array(repeating: 7, count: 48), path: "ipsec.sites[1]") else {
                XCTFail("\(format): not rendered"); continue
            }
            XCTAssertTrue(files[0].content.contains("#   ip link add ipsec42 type xfrm dev <outside device> if_id 42 mtu 1400\n"), "\(format): \(files[0].content.prefix(400))")
        }
    }
}
