import XCTest
@testable import GatePeerCore

/// The table model (NftTable) and the naming schema (NftNames), without a kernel: every
/// name the renderer declares comes from the schema, the names read back parse to what
/// made them, and every element the loader sends (destination maps raw, grants and
/// learned addresses) lands in a set the table declares with the key it has.
final class NftTableTests: XCTestCase {
    func rich() throws -> (GatePeerConfig, NftRuleset) {
        let config = try ConfigDecoder.decode(NftGoldenTests.rich).get()
        return (config, try XCTUnwrap(NftRenderer.render(config, mtus: ["gp0": 1400, "gp1": 1430])))
    }

    /// Every set, map, chain and counter the rich config's table declares is a name the
    /// schema makes for that config, and every name the schema makes for it is declared.
    func testEveryDeclaredNameComesFromTheSchema() throws {
        let (config, rs) = try rich()
        let f = try XCTUnwrap(config.filter)
        var schema: Set<String> = [NftNames.tunnels, NftNames.forward, NftNames.outbound, NftNames.inbound,
                                   NftNames.mssClamp, NftNames.postrouting, NftNames.vxlanGuard]
        for v in NftNames.verdicts { schema.insert(v.chain); schema.insert(v.counter) }
        for family in [IPAddress.Family.v4, .v6] {
            schema.formUnion([NftNames.devices(family), NftNames.backends(family), NftNames.groups(family)])
            for shape in NftNames.KeyShape.allCases { schema.insert(NftNames.grants(family, shape)) }
        }
        for (gi, c) in rs.compiled.enumerated() {
            schema.formUnion([NftNames.groupChain(group: gi), NftNames.defaultCounter(group: gi),
                              NftNames.groupMap(group: gi, family: .v4), NftNames.groupMap(group: gi, family: .v6)])
            for k in f.outbound[gi].rules.indices { schema.insert(NftNames.ruleCounter(group: gi, rule: k)) }
            for b in c.bundles.indices { schema.insert(NftNames.bundleChain(group: gi, bundle: b)) }
            for li in c.levels.indices {
                if !c.levels[li].portRules.isEmpty { schema.insert(NftNames.levelMap(group: gi, level: li, ports: true)) }
                if !c.levels[li].protocolRules.isEmpty { schema.insert(NftNames.levelMap(group: gi, level: li, ports: false)) }
            }
            for family in [IPAddress.Family.v4, .v6] {
                for shape in NftNames.KeyShape.allCases { schema.insert(NftNames.learned(group: gi, family: family, shape)) }
            }
        }
        for k in (f.inbound ?? []).indices where !(f.inbound![k].ports.isEmpty) { schema.insert(NftNames.inboundPorts(rule: k)) }
        for i in config.links.indices {
            schema.formUnion([NftNames.vxlanPeers(link: i), NftNames.vxlanDevices(link: i), NftNames.guardCounter(link: i)])
        }
        var declared: [String] = []
        for d in rs.table.declarations {
            switch d {
            case .set(let s): declared.append(s.name)
            case .chain(let c): declared.append(c.name)
            case .counter(let c):
                if NftNames.Metadata.parse(c) == nil { declared.append(c) }
            }
        }
        XCTAssertEqual(Set(declared).subtracting(schema), [], "declared, but not a name of the schema")
        // Counted rules only get counters (rules reached through maps count per element).
        let unused = schema.subtracting(declared).filter { !$0.hasPrefix("r") }
        XCTAssertEqual(unused, [], "a name of the schema the table does not declare")
        XCTAssertEqual(rs.table.counters.compactMap { NftNames.Metadata.parse($0) }.map(\.1), [rs.skeletonFingerprint, rs.fingerprint])
    }

    /// What the schema makes, it reads back: group of a destination map or shard, layout
    /// of a grant set or a learned-address map, value of a metadata counter.
    func testNamesReadBackToWhatMadeThem() {
        for family in [IPAddress.Family.v4, .v6] {
            XCTAssertEqual(NftNames.destinationGroup(ofMap: NftNames.groupMap(group: 12, family: family)), 12)
            for shape in NftNames.KeyShape.allCases {
                let g = NftNames.dynamicLayout(ofSet: NftNames.grants(family, shape))
                XCTAssertEqual(g?.family, family); XCTAssertEqual(g?.grant, true); XCTAssertEqual(g?.shape, shape)
                let l = NftNames.dynamicLayout(ofSet: NftNames.learned(group: 7, family: family, shape))
                XCTAssertEqual(l?.family, family); XCTAssertEqual(l?.grant, false); XCTAssertEqual(l?.shape, shape)
                XCTAssertFalse(NftNames.isGrantSet(NftNames.learned(group: 7, family: family, shape)))
            }
        }
        XCTAssertEqual(NftNames.destinationGroup(ofMap: NftNames.shard(group: 3, prefix: IPPrefix("10.0.16.0/20")!)), 3)
        for other in [NftNames.groups(.v4), NftNames.levelMap(group: 0, level: 1, ports: true), NftNames.tunnels, "gx_dom4", "grants4x", "g_dom6a"] {
            XCTAssertNil(NftNames.destinationGroup(ofMap: other), other)
            XCTAssertNil(NftNames.dynamicLayout(ofSet: other), other)
        }
        for m in NftNames.Metadata.allCases {
            let parsed = NftNames.Metadata.parse(m.counter("0123456789abcdef"))
            XCTAssertEqual(parsed?.0, m); XCTAssertEqual(parsed?.1, "0123456789abcdef")
        }
        XCTAssertNil(NftNames.Metadata.parse(NftNames.outAllow.counter))
    }

    /// Every element the loader sends is in a set the table declares, with that set's key
    /// types, interval flag and verdict: the destination maps' intervals (raw), grants of
    /// every shape and family, learned addresses of every domain rule.
    func testEveryElementTheLoaderSendsFitsASetTheTableDeclares() throws {
        let (config, rs) = try rich()
        XCTAssertFalse(rs.maps.isEmpty)
        for m in rs.maps {
            let s = try XCTUnwrap(rs.table.set(named: m.name), "map \(m.name) loaded raw but not declared")
            XCTAssertTrue(s.verdictMap && s.flags == [.interval] && s.counter, m.name)
            XCTAssertEqual(s.key, [.address(m.family)], m.name)
            XCTAssertTrue(s.elements.isEmpty, "\(m.name): its elements are loaded raw, not parsed")
            for iv in m.intervals where iv.verdict != MapInterval.allow && iv.verdict != MapInterval.deny {
                XCTAssertTrue(rs.table.chains.contains { $0.name == iv.verdict }, "\(m.name) jumps to undeclared chain \(iv.verdict)")
            }
        }
        let extras = NftGoldenTests.extras(config)
        let sets = Set(extras.map(\.set))
        XCTAssertEqual(sets.count, 6, "grants and learned addresses of several shapes: \(sets.sorted())")
        for e in extras { XCTAssertNil(rs.table.refusal(of: e), e.text) }

        // And the check can fail: a set that is not there, another key, a missing chain.
        let grant = try XCTUnwrap(extras.first { NftNames.isGrantSet($0.set) })
        var e = grant; e.set = "grants4x"
        XCTAssertNotNil(rs.table.refusal(of: e))
        e = grant; e.key = Array(e.key.dropLast())
        XCTAssertNotNil(rs.table.refusal(of: e))
        e = grant; e.interval = false
        XCTAssertNotNil(rs.table.refusal(of: e))
        let learned = try XCTUnwrap(extras.first { !NftNames.isGrantSet($0.set) })
        e = learned; e.gotoChain = "r9_9"
        XCTAssertNotNil(rs.table.refusal(of: e))
        e = learned; e.gotoChain = nil
        XCTAssertNotNil(rs.table.refusal(of: e))
    }

    /// The text is the model's: every set and chain declared once, in the model's order,
    /// and the rule counts the planner compares (chainRules) are the model's chains.
    func testTextDeclaresWhatTheModelHoldsInOrder() throws {
        let (_, rs) = try rich()
        let headers = rs.text.split(separator: "\n").filter { $0.hasPrefix("  set ") || $0.hasPrefix("  map ") || $0.hasPrefix("  chain ") || $0.hasPrefix("  counter ") }
        let names = headers.map { $0.split(separator: " ")[1] }.map(String.init)
        let model = rs.table.declarations.map { d -> String in
            switch d {
            case .set(let s): return s.name
            case .chain(let c): return c.name
            case .counter(let c): return c
            }
        }
        XCTAssertEqual(names, model)
        XCTAssertEqual(rs.chainRules["forward"]?.rules, 4)
        XCTAssertEqual(rs.chainRules["forward"]?.base, true)
        XCTAssertEqual(rs.chainRules["outbound"]?.base, false)
        XCTAssertEqual(rs.chainRules.count, rs.table.chains.count)
    }

    /// The staging copy is the same table renamed and dormant; `filter show` adds the
    /// destination maps' elements; neither changes the table itself.
    func testStagingAndShowRenderTheSameModel() throws {
        let (config, rs) = try rich()
        let staging = try XCTUnwrap(rs.stagingTransaction(extras: []))
        var dormant = rs.table
        dormant.name = NftNames.stagingTable
        dormant.dormant = true
        XCTAssertEqual(staging, "table inet gatepeer_stage\ndelete table inet gatepeer_stage\n" + dormant.text)
        XCTAssertEqual(rs.table.text, rs.text)
        XCTAssertNotNil(rs.stagingTransaction(extras: NftGoldenTests.extras(config)))
        XCTAssertTrue(rs.fullText.contains("198.51.100.0-198.51.100.255 : continue"))
    }
}
