import XCTest
@testable import GatePeerCore

/// Issue 12 leftover of issue 11: a blocked link kept getting its filter rendered from the
/// config, so the MSS clamp followed an MTU the link did not have. The table is rendered
/// from the links as they will be after the apply: a blocked link as the kernel has it.
final class BlockedLinkFilterTests: XCTestCase {
    var config: GatePeerConfig!
    override func setUp() { config = decodeOK(labConfigText) }

    /// The tunnel clamp rules of a plan's table (IPv4, IPv6) for link gp0.
    func gp0Clamp(_ plan: Plan) -> [String] {
        (plan.ruleset?.text ?? "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("iifname \"gp0\"") && $0.contains("maxseg size set") }
    }

    func filterChanges(_ plan: Plan) -> [String] {
        plan.changes.filter { c in
            switch c {
            case .replaceFilter, .repairFilter: return true
            default: return false
            }
        }.map(\.line)
    }

    /// The example: gp0 runs at 1450, the config asks for 1460, which does not fit
    /// through eth0 (blocked). The clamp stays at gp0's 1450 (MSS 1410/1390), the table is
    /// not reloaded for an MTU no device has.
    func testMTUThatDoesNotFitLeavesTheClampAtTheDevicesMTU() {
        let observed = convergedObserved(config)
        config.links[0].mtu = 1460
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertTrue(plan.blockers.first?.hasPrefix("links[0].mtu: 1460 does not fit") ?? false, "\(plan.blockers)")
        XCTAssertEqual(gp0Clamp(plan), [
            "iifname \"gp0\" meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1410",
            "iifname \"gp0\" meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size set 1390",
        ])
        XCTAssertEqual(filterChanges(plan), [], "the loaded table already clamps to gp0's MTU")
    }

    /// Siblings: every blocker that leaves an existing device alone keeps its clamp at the
    /// device's MTU (underlay gone, outer address gone, a held port), rather than dropping
    /// the rule or following the underlay.
    func testEveryBlockedLinkKeepsTheClampOfItsDevice() {
        let want = [
            "iifname \"gp0\" meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size set 1410",
            "iifname \"gp0\" meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size set 1390",
        ]
        var noUnderlay = convergedObserved(config)
        noUnderlay.links.removeAll { $0.name == "eth0" }
        var noOuter = convergedObserved(config)
        noOuter.addresses.removeAll { $0.linkIndex == 2 }
        noOuter.links[1].mtu = 1400  // the underlay shrank too: gp0 stays at 1450 while blocked
        for (what, observed) in [("underlay missing", noUnderlay), ("outer address missing", noOuter)] {
            let plan = Planner.plan(config: config, observed: observed)
            XCTAssertFalse(plan.blockers.isEmpty, what)
            XCTAssertEqual(gp0Clamp(plan), want, what)
            XCTAssertEqual(filterChanges(plan), [], what)
        }
    }

    /// Not blocked: the clamp follows the MTU the apply sets (the underlay shrank, so gp0
    /// goes to 1350 and its clamp with it).
    func testAnUnblockedLinkIsClampedToItsNewMTU() {
        var observed = convergedObserved(config)
        observed.links[1].mtu = 1400
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers, [])
        XCTAssertTrue(gp0Clamp(plan).first?.hasSuffix("maxseg size set 1310") ?? false, "\(gp0Clamp(plan))")
        XCTAssertEqual(filterChanges(plan).count, 1)
    }
}
