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
    func clampRules(_ c: GatePeerConfig, mtus: [String: Int]) throws -> [String]? {
        let text = try XCTUnwrap(NftRenderer.render(c, mtus: mtus)).text
        guard let start = text.range(of: "  chain mss_clamp {\n") else { return nil }
        let lines = text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).prefix { $0 != "  }" }
        return lines.dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func testEveryForwardedSYNIsClampedToItsRouteAndTunnelSYNsToTheTunnel() throws {
        let rules = try XCTUnwrap(try clampRules(config, mtus: ["gp0": 1450]))
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
        XCTAssertEqual(try clampRules(config, mtus: [:]), ["tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu"])
    }

    /// A config with links and no filter section (netconfig/ipsec-site.json has none) still
    /// forwards devices' traffic, to an IPsec site for one: the same clamp, since `mssClamp`
    /// defaults to true.
    func testLinksWithoutAFilterSectionAreClampedToo() throws {
        var plain = config!
        plain.filter = nil
        XCTAssertEqual(try clampRules(plain, mtus: ["gp0": 1450]), try clampRules(config, mtus: ["gp0": 1450]))
        XCTAssertEqual(NftRenderer.render(plain, mtus: ["gp0": 1450])?.chainRules["mss_clamp"]?.rules, 3)
        XCTAssertNil(NftRenderer.render(GatePeerConfig(forwarding: true, links: [])), "no links, no filter: no table")
    }

    func testMSSClampOffRendersNoChain() throws {
        var off = config!
        off.filter?.mssClamp = false
        XCTAssertNil(try clampRules(off, mtus: ["gp0": 1450]))
        XCTAssertFalse(try XCTUnwrap(NftRenderer.render(off)).text.contains("maxseg"))
    }
}
