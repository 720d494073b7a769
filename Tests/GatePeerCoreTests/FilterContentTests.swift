import Foundation
import XCTest
@testable import GatePeerCore

/// The planner's view of table inet gatepeer's content (FilterContent), the VXLAN guard
/// the renderer adds for every config with links, and grant elements read back.
final class FilterContentTests: XCTestCase {
    var config: GatePeerConfig!
    override func setUpWithError() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("netconfig/lab-filter.json")
        config = decodeOK(try String(contentsOf: url, encoding: .utf8))
    }

    /// The kernel as gatepeer loaded `rs`: content equal to what the planner expects.
    func loaded(_ rs: NftRuleset) -> ObservedState {
        var o = convergedObserved(config)
        var elements: [String: FilterContent.SetElements] = ["groups4": .init(digest: 42, count: 2)]
        for m in rs.maps { elements[m.name] = m.elementDigest }
        let content = FilterContent(structure: "0123456789abcdef", elements: elements, rules: rs.chainRules.mapValues(\.rules),
                                    dynamic: ["grants4": [], "grants4a": []])
        o.filter = ObservedFilter(fingerprint: rs.fingerprint, skeleton: rs.skeletonFingerprint, counters: [:],
                                  loadedContent: content.digest(excluding: Set(rs.maps.map(\.name))), content: content)
        return o
    }

    func lines(_ o: ObservedState, dynamic: [NftElement] = []) -> [String] {
        Planner.plan(config: config, observed: o, dynamic: dynamic).changes.map(\.line)
    }

    func testContentAsLoadedIsInSync() throws {
        let o = convergedObserved(config)
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: Planner.linkMTUs(config, o)))
        XCTAssertEqual(lines(loaded(rs)), [])
    }

    func testEachKindOfEditIsARepairNamingIt() throws {
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: Planner.linkMTUs(config, convergedObserved(config))))
        let prefix = "~ nftables table inet gatepeer: content differs from what gatepeer loaded ("
        let edits: [(String, (inout FilterContent) -> Void, String)] = [
            ("flush", { c in for k in c.rules.keys { c.rules[k] = 0 }; c.elements = [:] }, "chain forward: 0 rules, want 4; chain mss_clamp: 0 rules, want 3; chain postrouting: 0 rules, want 2; 19 more)"),
            ("a rule deleted", { $0.rules["outbound"]! -= 1 }, "chain outbound: 11 rules, want 12)"),
            ("a chain added", { $0.rules["extra"] = 1 }, "chain extra is not gatepeer's)"),
            ("a chain deleted", { $0.rules["mss_clamp"] = nil }, "chain mss_clamp missing)"),
            ("a map element deleted", { c in
                c.elements["g0_dst4"]!.count -= 1
                c.elements["g0_dst4"]!.digest &+= 1
            }, "map g0_dst4: 16 elements, want 17)"),
            ("a policy changed", { $0.structure = "fedcba9876543210" }, "sets, objects or rules edited outside gatepeer)"),
            ("a small set flushed", { $0.elements["groups4"] = .init() }, "sets, objects or rules edited outside gatepeer)"),
        ]
        for (what, edit, reason) in edits {
            var o = loaded(rs)
            edit(&o.filter!.content!)
            let got = lines(o)
            XCTAssertEqual(got.count, 1, "\(what): \(got)")
            XCTAssertTrue(got.first?.hasPrefix(prefix + reason) ?? false, "\(what): \(got)")
        }
        // A table loaded by a gatepeer without content digests is reloaded once.
        var o = loaded(rs)
        o.filter!.loadedContent = nil
        XCTAssertEqual(lines(o), [prefix + "loaded without a content digest)"])
        // Not read (content nil): nothing to compare, no repair.
        o.filter!.content = nil
        XCTAssertEqual(lines(o), [])
    }

    /// A dormant table runs none of its rules: a repair, also when the content was not
    /// read (the fast path after gatepeer's own commit) and with a staging table left
    /// by a swap stopped half way (deleted first; the load wakes the table).
    func testDormantTableIsARepair() throws {
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: Planner.linkMTUs(config, convergedObserved(config))))
        let repair = "~ nftables table inet gatepeer: content differs from what gatepeer loaded (table dormant: no hook runs its rules)"
        var o = loaded(rs)
        o.filter!.dormant = true
        XCTAssertEqual(lines(o), [repair])
        o.filter!.content = nil
        XCTAssertEqual(lines(o), [repair])
        o.filterStaging = true
        XCTAssertEqual(lines(o), ["- nftables table inet gatepeer_stage (left by an interrupted load)", repair])
    }

    func testLeftoverStagingTableIsDeleted() throws {
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: Planner.linkMTUs(config, convergedObserved(config))))
        var o = loaded(rs)
        o.filterStaging = true
        XCTAssertEqual(lines(o), ["- nftables table inet gatepeer_stage (left by an interrupted load)"])
        let down = Planner.plan(config: GatePeerConfig(forwarding: false, links: []), observed: o).changes.map(\.line)
        XCTAssertTrue(down.contains("- nftables table inet gatepeer_stage (left by an interrupted load)"), "\(down)")
        XCTAssertTrue(down.contains("- nftables table inet gatepeer (no links and no filter in config)"), "\(down)")
    }

    func testGrantElementsAreComparedWithTheStateFile() throws {
        let rs = try XCTUnwrap(NftRenderer.render(config, mtus: Planner.linkMTUs(config, convergedObserved(config))))
        let grant = Grant(from: IPPrefix("10.128.0.11/32")!, to: IPPrefix("203.0.113.0/24")!, protocolMatch: .number(6),
                          ports: [PortRange(low: 22, high: 22), PortRange(low: 8000, high: 8080)], expires: 4_000_000_000)
        let want = GrantState.elements([grant], nowMs: 1_000)
        var o = loaded(rs)
        // Missing in the kernel: added back, one line per element.
        XCTAssertEqual(lines(o, dynamic: want), ["+ nftables element grants4 { 10.128.0.11/32 . 203.0.113.0/24 . 6 . 22 }",
                                                 "+ nftables element grants4 { 10.128.0.11/32 . 203.0.113.0/24 . 6 . 8000-8080 }"])
        // Held: nothing to do, whatever time is left on them.
        o.filter!.content!.dynamic["grants4"] = want.map(ObservedElement.init)
        XCTAssertEqual(lines(o, dynamic: GrantState.elements([grant], nowMs: 9_000)), [])
        // Held but explained by no grant: deleted, its key decoded as nft writes it.
        let stray = ObservedElement(NftElement(set: "grants4a", key: [.prefix(IPPrefix("10.128.0.0/16")!), .prefix(IPPrefix("0.0.0.0/0")!)], interval: true))
        o.filter!.content!.dynamic["grants4a"] = [stray]
        XCTAssertEqual(lines(o, dynamic: want), ["- nftables element grants4a { 10.128.0.0/16 . 0.0.0.0/0 } (no grant explains it)"])
        XCTAssertEqual(stray.element.keyBytes(end: true), stray.keyEnd, "the delete request carries the kernel's key end")
        // Bytes that fit no layout stay raw, and still delete exactly that key.
        let odd = ObservedElement(set: "grants4a", key: [1, 2, 3], keyEnd: [4, 5, 6], gotoChain: nil)
        XCTAssertEqual(odd.element.keyText, "0x010203-0x040506")
        XCTAssertEqual(ObservedElement(odd.element), odd)
    }

    /// The guard checks the underlay interface as well as the source, and covers what the
    /// kernel's device still runs where a change is blocked (another port here).
    func testVXLANGuardChecksTheInterfaceAndCoversTheRunningTunnel() throws {
        let rs = try XCTUnwrap(NftRenderer.render(config))
        XCTAssertTrue(rs.text.contains("    udp dport 4789 @th,96,24 10 iifname != @vx0_dev goto vx0_drop"), rs.text)
        XCTAssertTrue(rs.text.contains("    elements = { \"eth0\" }"), rs.text)
        var observed = convergedObserved(config)
        let i = try XCTUnwrap(observed.links.firstIndex { $0.name == "gp0" })
        observed.links[i].vxlan?.port = 8472
        let gp0 = observed.links[i].index
        XCTAssertEqual(Planner.liveTunnels(config, observed, blocked: []), [], "a device this plan recreates needs no rule")
        let live = Planner.liveTunnels(config, observed, blocked: [gp0])
        XCTAssertEqual(live, [LiveTunnel(link: 0, port: 8472, vni: 10, family: .v4, underlay: "eth0")])
        let both = try XCTUnwrap(NftRenderer.render(config, live: live)).text
        for port in [4789, 8472] {
            XCTAssertTrue(both.contains("    udp dport \(port) @th,96,24 10 ip saddr != @vx0_peers goto vx0_drop"), both)
        }
        XCTAssertEqual(Planner.liveTunnels(config, convergedObserved(config), blocked: [gp0]), [], "nothing extra once the device is as configured")
    }

    func testVXLANGuardForEveryConfigWithLinks() throws {
        var plain = config!
        plain.filter = nil
        let rs = try XCTUnwrap(NftRenderer.render(plain), "links without a filter section still get the table")
        XCTAssertTrue(rs.text.contains("    udp dport 4789 @th,96,24 10 ip saddr != @vx0_peers goto vx0_drop"), rs.text)
        XCTAssertTrue(rs.text.contains("    elements = { 100.64.152.4, 100.64.152.132 }"), rs.text)
        XCTAssertTrue(rs.text.contains("    type filter hook input priority filter; policy accept;"))
        XCTAssertTrue(rs.text.contains("log prefix \"gatepeer-vxlan gp0: \""))
        XCTAssertTrue(try XCTUnwrap(NftRenderer.render(config)).text.contains("saddr != @vx0_peers goto vx0_drop"), "and with one")
        XCTAssertNil(NftRenderer.render(GatePeerConfig(forwarding: false, links: [])))
        // An IPv6 underlay: its own family, its own peers only.
        plain.links[0].outerIpAddress = IPAddress("2001:db8::254")!
        plain.links[0].peers[0].outerIpAddress = IPAddress("2001:db8::4")!
        let v6 = try XCTUnwrap(NftRenderer.render(plain)).text
        XCTAssertTrue(v6.contains("    udp dport 4789 @th,96,24 10 ip6 saddr != @vx0_peers goto vx0_drop"), v6)
        XCTAssertTrue(v6.contains("    type ipv6_addr\n    elements = { 2001:db8::4 }"), v6)
        // The plan's rule counts come from the same text: the guard chain has two rules
        // per tunnel (interface, then source).
        XCTAssertEqual(NftRenderer.render(plain)!.chainRules["vxlan_guard"]?.rules, 2)
        XCTAssertEqual(NftRenderer.render(plain)!.chainRules["vxlan_guard"]?.base, true)
    }
}
