import Foundation
import XCTest

/// Issue 12 leftover of issue 11: a blocked link's filter was rendered from the config,
/// so the kernel's MSS clamp followed an MTU the link did not have.
final class BlockedLinkFilterKernelTests: KernelTestCase {
    /// The MSS values the kernel's chain mss_clamp sets for SYNs out of gp0 (IPv4, IPv6),
    /// read back with nft.
    func gp0Clamp(_ ns: Namespace) -> [String] {
        let text = ns.exec(["nft", "list", "chain", "inet", "gatepeer", "mss_clamp"]).stdout
        return text.split(separator: "\n").filter { $0.contains("iifname \"gp0\"") }
            .compactMap { $0.split(separator: " ").last.map(String.init) }
    }

    /// The example: gp0 runs at 1450 (eth0 1500 minus 50), then the config asks
    /// for mtu 1460, which does not fit (blocked). The apply leaves gp0 at 1450 and the
    /// kernel's clamp at gp0's MSS (1410/1390), not the config's (1420/1400); plan has
    /// nothing to do but the blocker, and status says blocked and exits 3, not in sync.
    func testBlockedMTUKeepsTheKernelsClampAtTheDevicesMTU() throws {
        let ns = try makePeerNamespace()
        ns.ip("link", "add", "uplink", "type", "veth", "peer", "name", "uplink1")
        let lab = try String(contentsOfFile: packageRoot.appendingPathComponent("netconfig/lab-filter.json").path, encoding: .utf8)
        let good = writeConfig(lab)
        let blocked = writeConfig(lab.replacingOccurrences(of: "\"vxlanId\": 10,", with: "\"vxlanId\": 10, \"mtu\": 1460,"))
        var r = ns.gatepeer("apply", "-c", good)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(ns.link("gp0")?["mtu"] as? Int, 1450)
        XCTAssertEqual(gp0Clamp(ns), ["1410", "1390"])

        r = ns.gatepeer("apply", "-c", blocked)
        XCTAssertTrue(r.stderr.contains("blocked: links[0].mtu: 1460 does not fit through eth0"), r.stderr)
        XCTAssertEqual(ns.link("gp0")?["mtu"] as? Int, 1450, "a blocked link is left as it is")
        XCTAssertEqual(gp0Clamp(ns), ["1410", "1390"], "the clamp follows gp0's MTU, not the blocked 1460")

        r = ns.gatepeer("plan", "-c", blocked)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "no changes (1 blocked: see stderr)", r.stdout + r.stderr)
        r = ns.gatepeer("status", "-c", blocked)
        XCTAssertFalse(r.stdout.contains("in sync with the config"), r.stdout)
        XCTAssertTrue(r.stdout.contains("blocked: links[0].mtu"), r.stdout)
        XCTAssertEqual(r.status, 3, "degraded: a link is blocked\n\(r.stdout)\(r.stderr)")
    }
}
