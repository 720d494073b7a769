import XCTest
@testable import GatePeerCore

/// A namespace as the kernel would report it: eth0 (index 2) holding the outer address.
func baseObserved() -> ObservedState {
    ObservedState(
        links: [ObservedLink(index: 1, name: "lo", mtu: 65536, isUp: true),
                ObservedLink(index: 2, name: "eth0", mtu: 1500, isUp: true)],
        addresses: [ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.254/24")!)],
        sysctls: [.ipv4Forward: "0"])
}

/// What the kernel holds after a successful apply of `config` (link gp0 at index 7).
func convergedObserved(_ config: GatePeerConfig) -> ObservedState {
    var o = baseObserved()
    o.sysctls[.ipv4Forward] = "1"
    for (n, l) in config.links.enumerated() {
        let idx = Int32(7 + n)
        o.links.append(ObservedLink(index: idx, name: l.name, kind: "vxlan", alias: "gatepeer:\(l.name)",
                                    mtu: l.mtu ?? 1450, mac: l.mac, isUp: true, operState: "unknown",
                                    vxlan: VXLANAttributes(id: l.vxlanId, port: l.port, portRange: l.sourcePortRange,
                                                           local: l.outerIpAddress, underlayIndex: 2, learning: l.learning)))
        o.addresses.append(ObservedAddress(linkIndex: idx, prefix: l.innerIpAddress))
        // The prefix route the kernel adds with the address (proto kernel, scope link).
        o.routes.append(ObservedRoute(protocolNumber: 2, destination: l.innerIpAddress.network, gateway: nil, outputIndex: idx, scope: 253))
        o.addresses.append(ObservedAddress(linkIndex: idx, prefix: IPPrefix("fe80::1/64")!))
        for p in l.peers { o.fdb.append(ObservedFDBEntry(linkIndex: idx, mac: .zero, destination: p.outerIpAddress, permanent: true)) }
        for r in l.routes {
            o.routes.append(ObservedRoute(protocolNumber: Ownership.routeProtocol, destination: r.destination, gateway: r.via, outputIndex: idx))
        }
        o.sysctls[.rpFilter(l.name)] = "2"
        o.sysctls[.acceptRA(l.name)] = "0"
    }
    // Table inet gatepeer as loaded (its content not read: no drift check).
    if let rs = NftRenderer.render(config, mtus: Planner.linkMTUs(config, o)) {
        o.filter = ObservedFilter(fingerprint: rs.fingerprint, skeleton: rs.skeletonFingerprint, counters: [:])
    }
    return o
}

final class PlannerTests: XCTestCase {
    var config: GatePeerConfig!
    override func setUp() { config = decodeOK(labConfigText) }

    func testFreshApplyIsOrderedForTheKernel() {
        let plan = Planner.plan(config: config, observed: baseObserved())
        XCTAssertEqual(plan.blockers, [])
        XCTAssertEqual(plan.changes.map(\.line), [
            // The table (outbound filter, VXLAN guard; it exists for every config with
            // links) before any link: forwarding may be on already, no window.
            "+ nftables table inet gatepeer (0 outbound group(s), 0 set elements) fingerprint \(NftRenderer.render(config, mtus: ["gp0": 1450])!.fingerprint)",
            "+ link gp0 vxlan id 10 port 4789 srcport 4789-4789 dev eth0 local 172.31.0.254 mtu 1450 mac \(MACAddress.derived(fromLinkName: "gp0")) learning on",
            "+ sysctl net.ipv4.conf.gp0.rp_filter = 2",
            "+ sysctl net.ipv6.conf.gp0.accept_ra = 0",
            "+ fdb gp0 00:00:00:00:00:00 dst 100.64.152.4",
            "+ fdb gp0 00:00:00:00:00:00 dst 100.64.152.132",
            "+ address 10.255.255.254/9 dev gp0",
            "~ link gp0 state down -> up",
            "+ route 192.168.10.0/24 via 10.129.3.7 dev gp0 proto gatepeer",
            "~ sysctl net.ipv4.ip_forward 0 -> 1",
        ])
    }

    func testConvergedIsEmpty() {
        let plan = Planner.plan(config: config, observed: convergedObserved(config))
        XCTAssertTrue(plan.isEmpty, plan.changes.map(\.line).joined(separator: "\n"))
        XCTAssertEqual(plan.blockers, [])
    }

    /// Field fault (review of issue 12): `ip route del 10.128.0.0/9 dev gp0` left the
    /// address in place, so the plan was empty and the device subnet unrouted for good.
    /// The address is deleted and added again (the kernel then restores the route), and
    /// the LAN routes the delete flushes are put back after it.
    func testMissingPrefixRouteReaddsTheAddressAndItsRoutes() {
        var observed = convergedObserved(config)
        observed.routes.removeAll { $0.protocolNumber == 2 }
        let lines = Planner.plan(config: config, observed: observed).changes.map(\.line)
        XCTAssertEqual(lines, [
            "- address 10.255.255.254/9 dev gp0 (its prefix route 10.128.0.0/9 dev gp0 is gone; added again so the kernel restores it)",
            "+ address 10.255.255.254/9 dev gp0",
            "~ route 192.168.10.0/24 via 10.129.3.7 dev gp0 (again after the address change)",
        ])
        // A device that is down has no prefix route until it comes up: no re-add then.
        observed.links[observed.links.count - 1].isUp = false
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line), ["~ link gp0 state down -> up"])
    }

    func testVNIChangeRecreatesAndReaddsEverything() {
        let observed = convergedObserved(config)
        config.links[0].vxlanId = 11
        let lines = Planner.plan(config: config, observed: observed).changes.map(\.line)
        XCTAssertEqual(lines.first, "- link gp0 (recreate: vxlanId 10 -> 11 cannot change in place)")
        // The guard matches the VNI: the table is reloaded after the delete, before the create.
        XCTAssertTrue(lines[1].hasPrefix("~ nftables table inet gatepeer"), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("+ link gp0 vxlan id 11"), lines[2])
        XCTAssertTrue(lines.contains("+ route 192.168.10.0/24 via 10.129.3.7 dev gp0 proto gatepeer"))
        XCTAssertEqual(lines.filter { $0.hasPrefix("+ fdb") }.count, 2)
        XCTAssertFalse(lines.contains { $0.hasPrefix("- route") }, "the route goes with the device")
    }

    /// MTU, learning and the outer (local) address change on the live device. The outer
    /// address moves to another one eth0 holds: a test that set the value the link
    /// already had could not see a planner that ignores it (issue 11, Why).
    func testMutableAttributesChangeInPlace() {
        var observed = convergedObserved(config)
        observed.addresses.append(ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.253/24")!))
        config.links[0].mtu = 1400
        config.links[0].learning = false
        XCTAssertNotEqual(config.links[0].outerIpAddress, IPAddress("172.31.0.253")!)
        config.links[0].outerIpAddress = IPAddress("172.31.0.253")!
        let lines = Planner.plan(config: config, observed: observed).changes.map(\.line)
        XCTAssertEqual(lines.last, "~ link gp0 mtu 1450 -> 1400, local 172.31.0.254 -> 172.31.0.253, learning on -> off")
        // The MSS clamp for SYNs out of the tunnel follows its MTU: the table is reloaded.
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertTrue(lines.first?.hasPrefix("~ nftables table inet gatepeer (0 outbound group(s), 0 set elements) fingerprint ") ?? false, "\(lines)")
    }

    /// Each mutable vxlan attribute alone, against a converged kernel: the plan holds
    /// exactly that change (a planner that ignores one leaves the kernel as it was).
    func testEachMutableAttributeAloneIsPlanned() {
        var observed = convergedObserved(config)
        observed.links.append(ObservedLink(index: 3, name: "eth1", mtu: 1500, isUp: true))
        observed.addresses.append(ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.253/24")!))
        observed.addresses.append(ObservedAddress(linkIndex: 3, prefix: IPPrefix("172.31.1.254/24")!))
        func link(_ change: (inout VPGLink) -> Void) -> [String] {
            var c = config!
            change(&c.links[0])
            return Planner.plan(config: c, observed: observed).changes.map(\.line).filter { $0.hasPrefix("~ link") || $0.hasPrefix("- link") || $0.hasPrefix("+ link") }
        }
        XCTAssertEqual(link { $0.outerIpAddress = IPAddress("172.31.0.253")! }, ["~ link gp0 local 172.31.0.254 -> 172.31.0.253"])
        XCTAssertEqual(link { $0.learning = false }, ["~ link gp0 learning on -> off"])
        XCTAssertEqual(link { $0.mtu = 1400 }, ["~ link gp0 mtu 1450 -> 1400"])
        XCTAssertEqual(link { $0.underlayDevice = "eth1"; $0.outerIpAddress = IPAddress("172.31.1.254")! },
                       ["~ link gp0 local 172.31.0.254 -> 172.31.1.254, dev eth0 -> eth1"])
        let mac = MACAddress.derived(fromLinkName: "other")
        XCTAssertEqual(link { $0.mac = mac }, ["~ link gp0 mac \(MACAddress.derived(fromLinkName: "gp0")) -> \(mac)"])
        XCTAssertEqual(link { _ in }, [])
        // What the kernel cannot change on a live vxlan device recreates it.
        XCTAssertEqual(link { $0.port = 4790 }.first, "- link gp0 (recreate: port 4789 -> 4790 cannot change in place)")
        XCTAssertEqual(link { $0.sourcePortRange = PortRange(low: 4789, high: 4790) }.first,
                       "- link gp0 (recreate: sourcePortRange 4789-4789 -> 4789-4790 cannot change in place)")
    }

    func testRemovingOnePeerRemovesOnlyItsEntry() {
        let observed = convergedObserved(config)
        let before = observed.filter!.fingerprint!
        config.links[0].peers.removeLast()
        // The VXLAN guard's peer set loses it too: the table is reloaded.
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line),
                       ["~ nftables table inet gatepeer (0 outbound group(s), 0 set elements) fingerprint \(before) -> \(NftRenderer.render(config, mtus: ["gp0": 1450])!.fingerprint)",
                        "- fdb gp0 00:00:00:00:00:00 dst 100.64.152.132 (not a configured peer)"])
    }

    func testRouteGatewayChangeIsReplace() {
        let observed = convergedObserved(config)
        config.links[0].routes[0].via = IPAddress("10.129.3.8")!
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line),
                       ["~ route 192.168.10.0/24 via 10.129.3.7 -> 10.129.3.8 dev gp0"])
    }

    /// A rename (gp0 -> gp1): the old link goes, then the table for the new name is
    /// loaded, and only then is gp1 created and set up (no window without the filter).
    /// The read-back reuses the table the applied plan rendered: the same plan as rendering
    /// it again, and a table that differs from the kernel's is still seen.
    func testReadBackReusesTheRenderedTableAndStillSeesADifference() {
        let observed = convergedObserved(config)
        let before = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(Planner.plan(config: config, observed: observed, rendered: before).changes.map(\.line),
                       before.changes.map(\.line))
        config.links[0].name = "gp1"
        let renamed = Planner.plan(config: config, observed: observed)
        let reused = Planner.plan(config: config, observed: observed, rendered: renamed)
        XCTAssertEqual(reused.changes.map(\.line), renamed.changes.map(\.line))
        XCTAssertTrue(reused.changes.contains { $0.line.hasPrefix("~ nftables table inet gatepeer") })
        XCTAssertEqual(reused.ruleset?.fingerprint, renamed.ruleset?.fingerprint)
        // The table given is the one planned with, not a fresh render: one rendered for
        // other MTUs shows through (the comparisons above pass whether or not it is reused).
        var narrower = config!
        narrower.links[0].mtu = 1400
        let marked = Planner.plan(config: narrower, observed: observed)
        XCTAssertNotEqual(marked.ruleset?.fingerprint, renamed.ruleset?.fingerprint)
        XCTAssertEqual(Planner.plan(config: config, observed: observed, rendered: marked).ruleset?.fingerprint, marked.ruleset?.fingerprint)
    }

    func testRenamedLinkGetsItsTableBeforeItExists() {
        let observed = convergedObserved(config)
        config.links[0].name = "gp1"
        let lines = Planner.plan(config: config, observed: observed).changes.map(\.line)
        let table = lines.firstIndex { $0.hasPrefix("~ nftables table inet gatepeer") }
        let delete = lines.firstIndex { $0.hasPrefix("- link gp0") }
        let create = lines.firstIndex { $0.hasPrefix("+ link gp1") }
        let up = lines.firstIndex { $0 == "~ link gp1 state down -> up" }
        XCTAssertNotNil(table, lines.joined(separator: "\n"))
        XCTAssertLessThan(delete ?? .max, table ?? -1, lines.joined(separator: "\n"))
        XCTAssertLessThan(table ?? .max, create ?? -1, lines.joined(separator: "\n"))
        XCTAssertLessThan(create ?? .max, up ?? -1, lines.joined(separator: "\n"))
    }

    func testRemovedLinkGoesWithItsRoutesRoutesFirst() {
        let observed = convergedObserved(config)
        let lines = Planner.plan(config: GatePeerConfig(links: []), observed: observed).changes.map(\.line)
        XCTAssertEqual(lines, ["- route 192.168.10.0/24 via 10.129.3.7 dev gp0 (not in config)", "- link gp0 (not in config)",
                               "- nftables table inet gatepeer (no links and no filter in config)"])
    }

    func testForeignObjectsAreNeverTouched() {
        var observed = convergedObserved(config)
        // A foreign vxlan, a foreign static route, a foreign FDB entry on a foreign device.
        observed.links.append(ObservedLink(index: 20, name: "vxforeign", kind: "vxlan", alias: nil, isUp: true))
        observed.routes.append(ObservedRoute(protocolNumber: 4, destination: IPPrefix("198.18.0.0/24")!, gateway: nil, outputIndex: 20))
        observed.fdb.append(ObservedFDBEntry(linkIndex: 20, mac: .zero, destination: IPAddress("192.0.2.9"), permanent: true))
        XCTAssertTrue(Planner.plan(config: config, observed: observed).isEmpty)
        let down = Planner.plan(config: GatePeerConfig(forwarding: false, links: []), observed: observed)
        XCTAssertFalse(down.changes.contains { $0.line.contains("vxforeign") || $0.line.contains("198.18.0.0") })
    }

    func testForeignDeviceWithOurNameBlocksAndIsKept() {
        var observed = baseObserved()
        observed.links.append(ObservedLink(index: 9, name: "gp0", kind: "vxlan", alias: "someone else", isUp: true))
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers.count, 1)
        XCTAssertTrue(plan.blockers[0].hasPrefix("links[0].name: device gp0 exists and is not gatepeer's"))
        XCTAssertFalse(plan.changes.contains { $0.line.contains("gp0") })
    }

    func testForeignRouteOnOurDestinationBlocksThatRoute() {
        var observed = convergedObserved(config)
        observed.routes.removeAll { $0.protocolNumber == Ownership.routeProtocol }
        observed.routes.append(ObservedRoute(protocolNumber: 4, destination: IPPrefix("192.168.10.0/24")!, gateway: IPAddress("172.31.0.1"), outputIndex: 2))
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertTrue(plan.isEmpty)
        XCTAssertTrue(plan.blockers.first?.contains("already routed by protocol 4 dev eth0") ?? false, "\(plan.blockers)")
    }

    /// Field fault (recheck of issue 12): a backup route to our LAN at a worse metric
    /// (`ip route add 192.168.10.0/24 via 172.31.0.1 dev eth0 metric 50`) was a blocker
    /// although ours, at metric 0, carried the traffic. It is not; one at our metric is.
    func testForeignRouteAtAWorseMetricIsNoBlocker() {
        var observed = convergedObserved(config)
        observed.routes.append(ObservedRoute(protocolNumber: 3, destination: IPPrefix("192.168.10.0/24")!, gateway: IPAddress("172.31.0.1"), outputIndex: 2, priority: 50))
        var plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers, [])
        XCTAssertTrue(plan.isEmpty, plan.changes.map(\.line).joined(separator: "\n"))
        // Ours gone: it is added beside the backup.
        observed.routes.removeAll { $0.protocolNumber == Ownership.routeProtocol }
        plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers, [])
        XCTAssertEqual(plan.changes.map(\.line), ["+ route 192.168.10.0/24 via 10.129.3.7 dev gp0 proto gatepeer"])
    }

    /// Field fault (recheck of issue 12): `ip route add 10.128.0.11/32 dev eth0` and
    /// `192.168.10.0/25 dev eth0` took a device and half the LAN away from the tunnel while
    /// status said in sync. Each is a blocker naming the field, the route and what to do;
    /// nothing is changed.
    func testMoreSpecificForeignRoutesInsideOurDestinationsAreBlockers() {
        var observed = convergedObserved(config)
        observed.routes.append(ObservedRoute(protocolNumber: 3, destination: IPPrefix("10.128.0.11/32")!, gateway: nil, outputIndex: 2))
        observed.routes.append(ObservedRoute(protocolNumber: 3, destination: IPPrefix("192.168.10.0/25")!, gateway: IPAddress("172.31.0.1"), outputIndex: 2))
        // Not inside: a wider route, and one through our own device.
        observed.routes.append(ObservedRoute(protocolNumber: 3, destination: IPPrefix("192.168.0.0/16")!, gateway: IPAddress("172.31.0.1"), outputIndex: 2))
        observed.routes.append(ObservedRoute(protocolNumber: 3, destination: IPPrefix("10.130.0.0/16")!, gateway: nil, outputIndex: 7))
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertTrue(plan.isEmpty, plan.changes.map(\.line).joined(separator: "\n"))
        XCTAssertEqual(plan.blockers, [
            "links[0].innerIpAddress: 10.128.0.11/32 dev eth0 (protocol 3), which gatepeer does not own, is more specific than 10.128.0.0/9 and takes that traffic away from gp0; that route is left alone: delete it or route it through gp0",
            "links[0].routes: 192.168.10.0/25 via 172.31.0.1 dev eth0 (protocol 3), which gatepeer does not own, is more specific than 192.168.10.0/24 and takes that traffic away from gp0; that route is left alone: delete it or route it through gp0",
        ])
    }

    func testMissingUnderlayBlocksButKeepsExistingLink() {
        var observed = convergedObserved(config)
        observed.links.removeAll { $0.name == "eth0" }
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertTrue(plan.blockers.first?.hasPrefix("links[0].underlayDevice: device eth0 does not exist") ?? false)
        XCTAssertFalse(plan.changes.contains { $0.sign == "-" }, "a blocked link and its routes are not deleted")
    }

    func testMTUDefaultsFromUnderlayAndIsChecked() {
        var observed = baseObserved()
        observed.links[1].mtu = 9001
        let changes = Planner.plan(config: config, observed: observed).changes
        guard let spec = changes.lazy.compactMap({ c -> LinkSpec? in if case .createLink(let s) = c { return s } else { return nil } }).first else { return XCTFail() }
        XCTAssertEqual(spec.mtu, 8951)
        config.links[0].mtu = 9000
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertTrue(plan.blockers.first?.hasPrefix("links[0].mtu: 9000 does not fit") ?? false, "\(plan.blockers)")
    }

    func testForeignAddressOnOurDeviceIsReplacedButLinkLocalKept() {
        var observed = convergedObserved(config)
        observed.addresses.append(ObservedAddress(linkIndex: 7, prefix: IPPrefix("10.200.0.1/9")!))
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line), ["- address 10.200.0.1/9 dev gp0"])
    }

    /// A changed inner address: the old one is the device's last IPv4 address, and the
    /// kernel flushes the device's IPv4 routes when it goes; so the LAN route is
    /// (re)placed after the new address, not kept. An extra address that goes while the
    /// inner one stays flushes nothing (above), so its routes stay untouched.
    func testInnerAddressChangeReplacesTheRoutesAfterTheAddress() {
        let observed = convergedObserved(config)
        config.links[0].innerIpAddress = IPPrefix("10.255.255.253/9")!
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line),
                       ["- address 10.255.255.254/9 dev gp0", "+ address 10.255.255.253/9 dev gp0",
                        "~ route 192.168.10.0/24 via 10.129.3.7 dev gp0 (again after the address change)"])
    }

    func testIPv6ConfigAsksForIPv6Forwarding() {
        let c = decodeOK("""
        {"links": [{"name": "gp6", "underlayDevice": "eth0", "outerIpAddress": "2001:db8:1::10",
          "innerIpAddress": "fd00:10::fffe/64", "peers": [{"outerIpAddress": "2001:db8:2::4"}]}]}
        """)!
        var observed = baseObserved()
        observed.addresses.append(ObservedAddress(linkIndex: 2, prefix: IPPrefix("2001:db8:1::10/64")!))
        let lines = Planner.plan(config: c, observed: observed).changes.map(\.line)
        XCTAssertTrue(lines[1].contains("local 2001:db8:1::10 mtu 1430"), lines[1])
        XCTAssertEqual(lines.last, "+ sysctl net.ipv6.conf.all.forwarding = 1")
        XCTAssertTrue(Planner.sysctlKeys(for: c).contains(.ipv6Forward))
    }
}

final class PlannerEdgeTests: XCTestCase {
    func testPortRangeRoundTripsThroughTheKernelForm() {
        for (lo, hi) in [(4789, 4789), (60000, 65534), (1, 1), (1, 65534), (32768, 60999)] {
            let r = PortRange(low: UInt16(lo), high: UInt16(hi))
            let k = r.kernelHalfOpen
            XCTAssertGreaterThan(k.high, k.low, "the kernel form is never empty (empty means 'ephemeral range')")
            XCTAssertEqual(PortRange(kernelLow: k.low, kernelHigh: k.high), r)
        }
    }

    func testNoAcceptRABelowIPv6MinimumMTU() {
        var config = decodeOK(labConfigText)!
        config.links[0].mtu = 1200
        let lines = Planner.plan(config: config, observed: baseObserved()).changes.map(\.line)
        XCTAssertFalse(lines.contains { $0.contains("accept_ra") }, "\(lines)")
        XCTAssertTrue(lines.contains("+ sysctl net.ipv4.conf.gp0.rp_filter = 2"))
    }

    /// An unmarked device that is exactly ours (an apply killed between create and marker)
    /// is adopted, routes and all; one attribute off and it stays foreign, routes kept.
    func testUnmarkedExactDeviceIsAdoptedAnythingLessStaysForeign() {
        let config = decodeOK(labConfigText)!
        var observed = convergedObserved(config)
        let gp0 = observed.links.count - 1
        observed.links[gp0].alias = nil
        var plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers, [])
        XCTAssertEqual(plan.changes.map(\.line), ["~ link gp0 alias none -> gatepeer:gp0 (adopting a device left by an interrupted apply)"])

        observed.links[gp0].mac = MACAddress(bytes: [2, 0, 0, 0, 0, 9])!
        plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers.count, 1)
        XCTAssertTrue(plan.blockers[0].hasPrefix("links[0].name: device gp0 exists and is not gatepeer's"), "\(plan.blockers)")
        XCTAssertFalse(plan.changes.contains { $0.sign == "-" }, plan.changes.map(\.line).joined(separator: "\n"))
    }

    func testStaleDuplicateAtAnotherMetricIsDeleted() {
        let config = decodeOK(labConfigText)!
        var observed = convergedObserved(config)
        observed.routes.append(ObservedRoute(protocolNumber: Ownership.routeProtocol, destination: IPPrefix("192.168.10.0/24")!,
                                             gateway: IPAddress("10.129.3.8"), outputIndex: 7, priority: 100))
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line),
                       ["- route 192.168.10.0/24 via 10.129.3.8 dev gp0 (not in config)"])
    }
}

/// Issue 9 items 2, 3, 4, 8: FDB entries by every attribute, foreign holders of what
/// the kernel would refuse, ownership by exact match, and the read-back count.
final class PlannerOwnershipTests: XCTestCase {
    let config = decodeOK(labConfigText)!

    func testDriftedGatePeerEntryIsDeletedWithItsAttributesAndAppendedAgain() {
        var observed = convergedObserved(config)
        let i = observed.fdb.firstIndex { $0.destination == IPAddress("100.64.152.4") }!
        observed.fdb[i].port = 8472
        observed.fdb[i].vni = 20
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.changes.map(\.line), [
            "- fdb gp0 00:00:00:00:00:00 dst 100.64.152.4 port 8472 vni 20 (not as gatepeer makes it)",
            "+ fdb gp0 00:00:00:00:00:00 dst 100.64.152.4",
        ])
        guard case .deleteFDB(_, let e, _) = plan.changes[0] else { return XCTFail() }
        XCTAssertEqual(e, observed.fdb[i], "the delete carries the entry as observed")
        // Each steering attribute on its own is drift too.
        for edit in [{ (e: inout ObservedFDBEntry) in e.sourceVNI = 10 }, { $0.outgoingIndex = 2 },
                     { $0.state = 0x02 }, { $0.flags = 0x12 }] {
            var o = convergedObserved(config)
            edit(&o.fdb[0])
            XCTAssertEqual(Planner.plan(config: config, observed: o).changes.count, 2, "\(o.fdb[0])")
        }
    }

    func testEntriesTowardNonPeersAreDriftLearnedOnesIncluded() {
        var observed = convergedObserved(config)
        let mac = MACAddress(bytes: [2, 0, 0, 0, 0, 1])!
        observed.fdb.append(ObservedFDBEntry(linkIndex: 7, mac: mac, destination: IPAddress("172.31.0.10"), permanent: false))
        observed.fdb.append(ObservedFDBEntry(linkIndex: 7, mac: .zero, destination: IPAddress("172.31.0.10"), permanent: true))
        // Learned from a gate peer at the device's port and VNI: kept.
        observed.fdb.append(ObservedFDBEntry(linkIndex: 7, mac: MACAddress(bytes: [2, 0, 0, 0, 0, 2])!, destination: IPAddress("100.64.152.4"), permanent: false))
        XCTAssertEqual(Planner.plan(config: config, observed: observed).changes.map(\.line), [
            "- fdb gp0 02:00:00:00:00:01 dst 172.31.0.10 state 0x2 (not a configured peer)",
            "- fdb gp0 00:00:00:00:00:00 dst 172.31.0.10 (not a configured peer)",
        ])
    }

    /// Round 2 item 1: a non-zero entry toward a gate peer is kept only when the kernel
    /// learned it (NUD_REACHABLE, flags NTF_SELF, as vxlan_snoop files it); `bridge fdb
    /// replace ... permanent` (0xc0), `... static` (0x42), extern_learn (0x12) are drift.
    func testHandMadeNonZeroEntriesTowardAPeerAreDriftOnlyLearnedOnesKept() {
        var observed = convergedObserved(config)
        let peer = IPAddress("100.64.152.4")
        func mac(_ b: UInt8) -> MACAddress { MACAddress(bytes: [2, 0, 0, 0, 0, b])! }
        for (b, state, flags) in [(1, 0xc0, 0x02), (2, 0x42, 0x02), (3, 0x80, 0x12), (4, 0x02, 0x02)] as [(UInt8, UInt16, UInt8)] {
            observed.fdb.append(ObservedFDBEntry(linkIndex: 7, mac: mac(b), destination: peer, state: state, flags: flags,
                                                 port: nil, vni: nil, sourceVNI: nil, outgoingIndex: nil))
        }
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.changes.map(\.line), [
            "- fdb gp0 02:00:00:00:00:01 dst 100.64.152.4 (not learned by the kernel)",
            "- fdb gp0 02:00:00:00:00:02 dst 100.64.152.4 state 0x42 (not learned by the kernel)",
            "- fdb gp0 02:00:00:00:00:03 dst 100.64.152.4 flags 0x12 (not learned by the kernel)",
        ])
        guard case .deleteFDB(_, let e, _) = plan.changes[0] else { return XCTFail() }
        XCTAssertEqual(e, observed.fdb[observed.fdb.count - 4], "the delete carries the entry as observed")
    }

    /// Round 2 item 2: an up foreign vxlan device on our port and family whose receive
    /// options differ (collect metadata, GBP, a VNI filter) holds the UDP socket ours
    /// cannot share: a blocker naming it and links[i].port. Down, on another port or
    /// family, or with our receive options (the kernel shares the socket): no blocker.
    func testUpForeignDeviceWithOtherReceiveOptionsOnOurPortIsABlocker() {
        var observed = baseObserved()
        var vx = VXLANAttributes(id: 0, port: 4789, portRange: PortRange(low: 0, high: 0), local: nil, underlayIndex: nil, learning: false)
        vx.receiveFlags = ["external"]
        observed.links.append(ObservedLink(index: 30, name: "vxext", kind: "vxlan", isUp: true, vxlan: vx))
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers.count, 1, "\(plan.blockers)")
        XCTAssertTrue(plan.blockers.first?.hasPrefix("links[0].port: UDP port 4789 (IPv4) is held by device vxext (up, receive options external)") ?? false, "\(plan.blockers)")
        XCTAssertFalse(plan.changes.contains { $0.line.contains("gp0") }, plan.changes.map(\.line).joined(separator: "\n"))
        for (edit, blocked) in [({ (l: inout ObservedLink) in l.isUp = false }, false), ({ $0.vxlan?.port = 8472 }, false),
                                ({ $0.vxlan?.receiveFlags = [] }, false), ({ $0.vxlan?.receiveFlags = ["gbp"]; $0.vxlan?.id = 20 }, true),
                                ({ $0.vxlan?.receiveFlags = []; $0.vxlan?.vniFilter = true }, true),
                                ({ $0.vxlan?.receiveFlags = ["gbp"]; $0.vxlan?.local = IPAddress("2001:db8::1") }, false)] as [((inout ObservedLink) -> Void, Bool)] {
            var o = observed
            edit(&o.links[o.links.count - 1])
            XCTAssertEqual(Planner.plan(config: config, observed: o).blockers.count, blocked ? 1 : 0, "\(o.links.last!)")
        }
        // Ours already up: it holds its socket, nothing to open.
        var up = convergedObserved(config)
        up.links.append(observed.links.last!)
        XCTAssertEqual(Planner.plan(config: config, observed: up).blockers, [])
    }

    /// Round 2 item 3: the read-back tells changes of the applied plan the kernel did not
    /// take from drift that appeared during the apply.
    func testReadBackSeparatesNotTakenFromChangedDuringApply() {
        var observed = convergedObserved(config)
        observed.sysctls[.rpFilter("gp0")] = "1"
        let planned = Planner.plan(config: config, observed: observed)
        var after = observed
        after.fdb.removeAll()
        let rb = ReadBack(planned: planned, after: Planner.plan(config: config, observed: after))
        XCTAssertEqual(rb.notTaken, ["~ sysctl net.ipv4.conf.gp0.rp_filter 1 -> 2"])
        XCTAssertEqual(rb.changedDuringApply, ["+ fdb gp0 00:00:00:00:00:00 dst 100.64.152.4", "+ fdb gp0 00:00:00:00:00:00 dst 100.64.152.132"])
        XCTAssertEqual(rb.applied, 0)
    }

    func testForeignDeviceHoldingVNIAndPortIsABlockerNamingIt() {
        var observed = baseObserved()
        var vx = VXLANAttributes(id: 10, port: 4789, portRange: PortRange(low: 0, high: 0), local: IPAddress("172.31.0.254"), underlayIndex: 2, learning: true)
        observed.links.append(ObservedLink(index: 30, name: "vxlan0", kind: "vxlan", vxlan: vx))
        var plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers, ["links[0].vxlanId: VNI 10 port 4789 (IPv4) is held by device vxlan0, which gatepeer does not own; the kernel refuses a second vxlan device with the same VNI, port and outer family: delete vxlan0 or choose another vxlanId or port"])
        XCTAssertFalse(plan.changes.contains { $0.line.contains("gp0") }, plan.changes.map(\.line).joined(separator: "\n"))
        // Another family, another port or a receive option of its own: the kernel takes both.
        for edit in [{ (v: inout VXLANAttributes) in v.local = IPAddress("2001:db8::1") }, { $0.port = 8472 }, { $0.receiveFlags = ["gbp"] }, { $0.id = 11 }] {
            var v = vx
            edit(&v)
            observed.links[observed.links.count - 1].vxlan = v
            plan = Planner.plan(config: config, observed: observed)
            XCTAssertEqual(plan.blockers, [], "\(v)")
        }
        vx.local = nil  // no local, no group: IPv4
        observed.links[observed.links.count - 1].vxlan = vx
        XCTAssertEqual(Planner.plan(config: config, observed: observed).blockers.count, 1)
    }

    /// A recreate toward a VNI a foreign device holds would delete our device and then
    /// fail to create it: blocked before the delete, our device kept.
    func testRecreateOntoAHeldVNIKeepsOurDevice() {
        var c = config
        c.links[0].vxlanId = 30
        var observed = convergedObserved(config)
        observed.links.append(ObservedLink(index: 30, name: "vxlan0", kind: "vxlan",
                                           vxlan: VXLANAttributes(id: 30, port: 4789, portRange: PortRange(low: 0, high: 0), local: nil, underlayIndex: nil, learning: true)))
        let plan = Planner.plan(config: c, observed: observed)
        XCTAssertEqual(plan.blockers.count, 1)
        XCTAssertTrue(plan.blockers[0].hasPrefix("links[0].vxlanId: VNI 30 port 4789 (IPv4) is held by device vxlan0"), "\(plan.blockers)")
        XCTAssertFalse(plan.changes.contains { $0.sign == "-" }, plan.changes.map(\.line).joined(separator: "\n"))
    }

    func testAnAltnameHoldingOurNameIsABlocker() {
        var observed = baseObserved()
        observed.links[1].altNames = ["gp0"]
        let plan = Planner.plan(config: config, observed: observed)
        XCTAssertEqual(plan.blockers.count, 1)
        XCTAssertTrue(plan.blockers[0].hasPrefix("links[0].name: gp0 is an alternative name of device eth0"), "\(plan.blockers)")
        // Nothing of the link; its sysctls (harmless without it) and the table whose VXLAN
        // guard covers the configured links.
        XCTAssertTrue(plan.changes.allSatisfy { ["sysctl", "nftables"].contains($0.object) }, plan.changes.map(\.line).joined(separator: "\n"))
        XCTAssertFalse(plan.changes.contains { $0.object == "link" })
    }

    func testOwnershipIsAnExactMatchNotAPrefix() {
        var observed = convergedObserved(config)
        observed.links.append(ObservedLink(index: 40, name: "br0", kind: "bridge", alias: "gatepeer:br0", isUp: true))
        observed.links.append(ObservedLink(index: 41, name: "x", kind: "vxlan", alias: "gatepeer:y", isUp: true,
                                           vxlan: VXLANAttributes(id: 99, port: 4790, portRange: PortRange(low: 0, high: 0), local: nil, underlayIndex: 2, learning: true)))
        observed.routes.append(ObservedRoute(protocolNumber: Ownership.routeProtocol, destination: IPPrefix("198.51.100.0/24")!,
                                             gateway: IPAddress("172.31.0.1"), outputIndex: 2))
        for c in [config, GatePeerConfig(forwarding: false, links: [])] {
            let plan = Planner.plan(config: c, observed: observed)
            XCTAssertFalse(plan.changes.contains { $0.line.contains("br0") || $0.line.contains("link x") || $0.line.contains("198.51.100.0") },
                           plan.changes.map(\.line).joined(separator: "\n"))
            XCTAssertEqual(plan.blockers, [])
            XCTAssertEqual(plan.warnings.count, 3, "\(plan.warnings)")
            XCTAssertTrue(plan.warnings.contains { $0.hasPrefix("link br0 (kind bridge) has alias \"gatepeer:br0\" but is not gatepeer's") }, "\(plan.warnings)")
            XCTAssertTrue(plan.warnings.contains { $0.hasPrefix("route 198.51.100.0/24 via 172.31.0.1 dev eth0 has protocol 201 but is not gatepeer's") }, "\(plan.warnings)")
        }
    }

    func testReadBackCountsOnlyWhatTheKernelTookNeverNegative() {
        let planned = Planner.plan(config: config, observed: baseObserved())
        XCTAssertEqual(ReadBack(planned: planned, after: Plan(changes: [], blockers: [])), ReadBack(planned: planned, after: Plan(changes: [], blockers: [])))
        XCTAssertEqual(ReadBack(planned: planned, after: Plan(changes: [], blockers: [])).applied, planned.changes.count)
        // The kernel answered success to an FDB delete and kept the entry: still wanted.
        var observed = convergedObserved(config)
        observed.fdb.append(ObservedFDBEntry(linkIndex: 7, mac: .zero, destination: IPAddress("100.64.152.9"), permanent: true, port: 8472))
        let fdb = Planner.plan(config: config, observed: observed)
        let rb = ReadBack(planned: fdb, after: fdb)
        XCTAssertEqual(rb.applied, 0)
        XCTAssertEqual(rb.notTaken, ["- fdb gp0 00:00:00:00:00:00 dst 100.64.152.9 port 8472 (not a configured peer)"])
        // A sysctl planned as "+" (device absent) and still wrong after is the same change.
        var after = convergedObserved(config)
        after.sysctls[.rpFilter("gp0")] = "1"
        let rb2 = ReadBack(planned: planned, after: Planner.plan(config: config, observed: after))
        XCTAssertEqual(rb2.applied, planned.changes.count - 1)
        XCTAssertEqual(rb2.notTaken, ["~ sysctl net.ipv4.conf.gp0.rp_filter 1 -> 2"])
    }
}
