import XCTest
@testable import GatePeerCore

final class NftMapsTests: XCTestCase {
    func a(_ s: String) -> IPAddress { IPAddress(s)! }
    func iv(_ lo: String, _ hi: String, _ chain: String) -> MapInterval { MapInterval(low: a(lo), high: a(hi), verdict: chain) }

    func testDeltaKeepsUnchangedIntervalsAndReplacesChangedOnesWhole() {
        let old = IntervalMap(name: "g0_dst4", family: .v4, intervals: [
            iv("0.0.0.0", "9.255.255.255", "return"),
            iv("10.0.0.0", "10.0.0.255", "continue"),
            iv("10.0.1.0", "10.0.1.255", "continue"),
            iv("10.0.2.0", "255.255.255.255", "return"),
        ])
        // 10.0.0.0/24 now allowed (merged into the first interval), 10.0.1.0/24 changes chain.
        let new = IntervalMap(name: "g0_dst4", family: .v4, intervals: [
            iv("0.0.0.0", "10.0.0.255", "return"),
            iv("10.0.1.0", "10.0.1.255", "r0_7"),
            iv("10.0.2.0", "255.255.255.255", "return"),
        ])
        let (remove, add) = new.delta(from: old)
        XCTAssertEqual(remove, [old.intervals[0], old.intervals[1], old.intervals[2]])
        XCTAssertEqual(add, [new.intervals[0], new.intervals[1]])
        XCTAssertTrue(new.delta(from: new).remove.isEmpty && new.delta(from: new).add.isEmpty)
    }

    func testDeltaAgainstEmptyIsEverything() {
        let m = IntervalMap(name: "g0_dst6", family: .v6, intervals: [iv("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "continue")])
        let (remove, add) = m.delta(from: IntervalMap(name: "g0_dst6", family: .v6, intervals: []))
        XCTAssertEqual(remove, [])
        XCTAssertEqual(add, m.intervals)
    }

    func testLoadedMapsRoundTripAndRejectsDamage() {
        let maps = LoadedMaps(fingerprint: "0123456789abcdef", maps: [
            IntervalMap(name: "g0_dst4", family: .v4, intervals: [iv("0.0.0.0", "20.0.0.255", "continue"), iv("20.0.1.0", "255.255.255.255", "g0_b3")]),
            IntervalMap(name: "g0_dst6", family: .v6, intervals: [iv("::", "2001:db8::ffff", "r0_1"), iv("2001:db8::1:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "return")]),
        ])
        var bytes = maps.encode()
        XCTAssertEqual(LoadedMaps.decode(bytes), maps)
        // A flipped byte anywhere, a truncation, or another file: not a copy.
        for at in [0, 20, bytes.count / 2, bytes.count - 1] {
            var damaged = bytes
            damaged[at] ^= 0x40
            XCTAssertNil(LoadedMaps.decode(damaged), "byte \(at)")
        }
        XCTAssertNil(LoadedMaps.decode(Array(bytes.dropLast(9))))
        XCTAssertNil(LoadedMaps.decode(Array("{\"grants\": []}".utf8)))
        bytes = LoadedMaps(fingerprint: "", maps: []).encode()
        XCTAssertEqual(LoadedMaps.decode(bytes), LoadedMaps(fingerprint: "", maps: []))
    }

    func testMergedRangesJoinsOverlappingAndAdjacent() {
        let r = NftRenderer.mergedRanges([(a("10.1.0.0"), a("10.1.255.255")), (a("10.0.0.0"), a("10.255.255.255")),
                                          (a("192.168.0.0"), a("192.168.0.255")), (a("192.168.1.0"), a("192.168.1.255")),
                                          (a("172.16.0.0"), a("172.16.0.0"))])
        XCTAssertEqual(r.map { "\($0.0)-\($0.1)" }, ["10.0.0.0-10.255.255.255", "172.16.0.0-172.16.0.0", "192.168.0.0-192.168.1.255"])
        let p = NftRenderer.mergedRanges([(UInt16(80), UInt16(90)), (443, 443), (85, 100), (101, 101), (65535, 65535)])
        XCTAssertEqual(p.map { "\($0.0)-\($0.1)" }, ["80-101", "443-443", "65535-65535"])
    }

    func testShardsArePrefixAlignedBoundedAndClipTheIntervalsThatCrossThem() throws {
        // 0.0.0.0-9.255.255.255 allow, then 40 /24 denies from 10.0.0.0, then allow to the top.
        var ivs = [iv("0.0.0.0", "9.255.255.255", "return")]
        for k in 0..<40 { ivs.append(iv("10.0.\(k).0", "10.0.\(k).255", "continue")) }
        ivs.append(iv("10.0.40.0", "255.255.255.255", "return"))
        XCTAssertEqual(IntervalMap.shards(ivs, family: .v4, limit: ivs.count).map(\.prefix.description), ["0.0.0.0/0"], "fits: one shard")

        let shards = IntervalMap.shards(ivs, family: .v4, limit: 8)
        XCTAssertGreaterThan(shards.count, 5)
        var next: IPAddress? = a("0.0.0.0")
        for (prefix, part) in shards {
            XCTAssertLessThanOrEqual(part.count, 8, "\(prefix)")
            XCTAssertEqual(prefix.network, prefix, "aligned: \(prefix)")
            XCTAssertEqual(part.first?.low, prefix.address, "\(prefix) starts where its prefix does")
            XCTAssertEqual(part.last?.high, prefix.lastAddress, "\(prefix) ends where its prefix does")
            XCTAssertEqual(prefix.address, next, "shards tile the space in order")
            for (x, y) in zip(part, part.dropFirst()) { XCTAssertEqual(x.high.successor, y.low) }
            next = prefix.lastAddress.successor
        }
        XCTAssertNil(next, "the last shard ends at 255.255.255.255")
        // Every address keeps its verdict: the shards are the same map, cut.
        for probe in ["0.0.0.1", "9.255.255.255", "10.0.0.0", "10.0.17.9", "10.0.39.255", "10.0.40.0", "10.0.255.1", "200.1.2.3"] {
            let want = ivs.first { $0.low <= a(probe) && a(probe) <= $0.high }?.verdict
            let got = shards.flatMap(\.intervals).first { $0.low <= a(probe) && a(probe) <= $0.high }?.verdict
            XCTAssertEqual(got, want, probe)
        }
        XCTAssertEqual(NftNames.shard(group: 2, prefix: IPPrefix("10.0.16.0/20")!), "g2_d4_0a001000_20")
        XCTAssertEqual(NftNames.shard(group: 0, prefix: IPPrefix("2001:db8::/32")!), "g0_d6_20010db8000000000000000000000000_32")
        XCTAssertEqual(NftNames.destinationGroup(ofMap: "g12_d4_0a001000_20"), 12)
        XCTAssertEqual(["g0_dst4", "g3_dst6", "g3_d6_20010db8000000000000000000000000_32", "g0_l1p", "groups4", "g0_dom4a", "in0_ports"]
                        .map { NftNames.destinationGroup(ofMap: $0) }, [0, 3, 3, nil, nil, nil, nil])
    }

    /// Round 2: a /8 with 2,000 ports and 5,000 hosts inside it gave 219 MB of nft text:
    /// every host's bundle carried its own copy of the /8's port map. Now each level is
    /// one named map that the bundles share: the table is linear in the rules.
    func testAnInheritedPortMapIsRenderedOnceForAllNestedHosts() throws {
        let hosts = 300
        let ports = stride(from: 1, through: 399, by: 2).map(String.init).joined(separator: ", ")
        var rules = ["{\"action\": \"allow\", \"destination\": \"20.0.0.0/8\", \"protocol\": \"tcp\", \"ports\": [\(ports)]}"]
        rules += (1...hosts).map { "{\"action\": \"allow\", \"destination\": \"20.0.\($0 / 256).\($0 % 256)/32\", \"protocol\": \"icmp\"}" }
        let text = Self.config(denies: []).replacingOccurrences(of: "\"rules\": []", with: "\"rules\": [" + rules.joined(separator: ", ") + "]")
        let config = try ConfigDecoder.decode(text).get()
        let rs = try XCTUnwrap(NftRenderer.render(config))
        let full = rs.fullText
        func occurrences(_ needle: String) -> Int { full.components(separatedBy: needle).count - 1 }
        // The /8's port elements once; every host's bundle chain looks the shared map up.
        XCTAssertEqual(occurrences("6 . 3 : goto r0_0"), 1, "the /8's port map must be rendered once")
        XCTAssertEqual(occurrences("meta l4proto . th dport vmap @g0_l"), hosts + 1, "the /8 itself and each host's bundle use it")
        // Linear: the 200 port elements once plus a few hundred bytes per host.
        XCTAssertLessThan(full.utf8.count, 200 * 40 + hosts * 600 + 20_000, "nft text must be linear in the rules")
        // The same decisions: a host's ICMP is its own rule, its TCP ports the /8's.
        let c = rs.compiled[0]
        XCTAssertEqual(c.evaluate(destination: a("20.0.0.7"), proto: 1, port: nil).rule, 7)
        XCTAssertEqual(c.evaluate(destination: a("20.0.0.7"), proto: 6, port: 3).rule, 0)
        XCTAssertEqual(c.evaluate(destination: a("20.0.0.7"), proto: 6, port: 4).rule, nil)
        XCTAssertEqual(c.evaluate(destination: a("20.9.9.9"), proto: 6, port: 399).rule, 0)
    }

    /// The source map keeps the widest of a group's nested sources, each once, in the
    /// config's order (a sweep now; comparing every pair took 92 s for 20,000 sources).
    func testNestedSourcesOfAGroupKeepTheWidestOnce() throws {
        let sources = ["10.128.0.0/16", "10.128.5.0/24", "10.128.5.7/32", "10.129.0.0/24", "10.129.0.0/24", "10.129.1.9/32", "10.128.0.0/16"]
        let text = Self.config(denies: []).replacingOccurrences(of: "\"name\": \"fleet\",", with: "\"name\": \"fleet\", \"sources\": [" + sources.map { "\"\($0)\"" }.joined(separator: ", ") + "],")
        let rs = try XCTUnwrap(NftRenderer.render(try ConfigDecoder.decode(text).get()))
        XCTAssertTrue(rs.text.contains("    elements = { 10.128.0.0/16 : goto g0, 10.129.0.0/24 : goto g0, 10.129.1.9/32 : goto g0 }"), rs.text)
    }

    func testLargeDestinationMapIsRenderedAsShardsBehindAFirstLevelMap() throws {
        let denies = (0..<(NftRuleset.shardLimit + 10)).map { "20.\($0 / 256).\($0 % 256).0/24" }
        let rs = try XCTUnwrap(NftRenderer.render(try ConfigDecoder.decode(Self.config(denies: denies)).get()))
        XCTAssertFalse(rs.maps.contains { $0.name == "g0_dst4" }, "g0_dst4 only picks the shard")
        XCTAssertTrue(rs.maps.contains { $0.name == "g0_dst6" }, "the small IPv6 map is not cut")
        let shards = rs.maps.filter { $0.name.hasPrefix("g0_d4_") }
        XCTAssertGreaterThan(shards.count, 1)
        XCTAssertEqual(shards.reduce(0) { $0 + $1.intervals.count } >= denies.count, true)
        for m in shards {
            XCTAssertTrue(rs.text.contains("  map \(m.name) {\n    type ipv4_addr : verdict\n    flags interval\n    counter\n  }"), m.name)
            XCTAssertTrue(rs.text.contains("  chain \(m.name) {\n    ip daddr vmap @\(m.name)\n    goto v_out_deny\n  }"), m.name)
        }
        let picker = try XCTUnwrap(rs.table.set(named: "g0_dst4"))
        XCTAssertTrue(picker.elements.contains { $0.hasSuffix(": goto \(shards[0].name)") }, "g0_dst4 picks the shards")
        XCTAssertTrue(rs.fullText.contains("20.0.3.0-20.0.3.255 : continue"))
    }

    /// Rules are read while parsing (StreamedRules): plain ones decoded on the spot, the
    /// rest by the general decoder, with the same results and the same problem paths.
    func testStreamedRulesDecodeLikeTheTreeAndReportTheSamePaths() throws {
        func rules(_ list: [String]) -> String {
            """
            {"links": [{"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
              "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"}]}],
             "filter": {"uplinkDevice": "uplink", "resolvers": ["203.0.113.53"], "outbound": [{"name": "a", "sources": ["10.128.0.0/10"], "rules": []},
               {"name": "b", "sources": ["10.192.0.0/10"], "default": "allow", "rules": [\(list.joined(separator: ",\n"))]}]}}
            """
        }
        let good = try ConfigDecoder.decode(rules([
            #"{"action": "deny", "destination": "198.51.100.0/24"}"#,
            #"{"destination": "203.0.113.0/24", "protocol": "udp", "action": "allow"}"#,
            #"{"action": "allow", "destination": "203.0.113.10/32", "protocol": "tcp", "ports": [443, "8000-8080"]}"#,
            #"{"action": "deny", "domain": "api.example.com"}"#,
        ])).get()
        let r = try XCTUnwrap(good.filter?.outbound[1].rules)
        XCTAssertEqual(r.count, 4)
        XCTAssertEqual(r[0], OutboundRule(action: .deny, destination: .prefix(IPPrefix("198.51.100.0/24")!), protocolMatch: .any, ports: []))
        XCTAssertEqual(r[1].protocolMatch, .number(17))
        XCTAssertEqual(r[2].ports, [PortRange(low: 443, high: 443), PortRange(low: 8000, high: 8080)])
        XCTAssertEqual(good.filter?.outbound[0].rules, [])

        let bad = problems(rules([
            #"{"action": "deny", "destination": "198.51.100.0/24"}"#,
            #"{"action": "deny", "destination": "198.51.100.1/24"}"#,
            #"{"action": "deny", "destination": "10.0.0.0/8", "action": "allow"}"#,
            #"{"action": "drop", "destination": "10.0.0.0/8"}"#,
            #"{"action": "deny", "destination": "10.0.0.0/8", "protocol": "tcp", "ports": [70000]}"#,
        ])).map(\.description)
        XCTAssertTrue(bad.contains { $0.hasPrefix("filter.outbound[1].rules[1].destination:") && $0.contains("host bits") }, "\(bad)")
        XCTAssertTrue(bad.contains { $0.contains("filter.outbound[1].rules[2]") && $0.contains("more than once") }, "\(bad)")
        XCTAssertTrue(bad.contains { $0.hasPrefix("filter.outbound[1].rules[3].action:") }, "\(bad)")
        XCTAssertTrue(bad.contains { $0.hasPrefix("filter.outbound[1].rules[4].ports[0]:") }, "\(bad)")
        XCTAssertFalse(bad.contains { $0.contains("rules[0]") }, "\(bad)")
    }

    func testFastIPv4PrefixParserAgreesWithTheGeneralOne() {
        for text in ["10.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32", "192.168.1.7/24", "1.2.3.4/33", "1.2.3.4/",
                     "1.2.3/24", "1.2.3.4.5/8", "01.2.3.4/8", "1.2.3.4/08", "256.1.1.1/8", "1.2.3.4", "::/0", "a.b.c.d/8",
                     "1..3.4/8", "1.2.3.4/8x", " 1.2.3.4/8", "1.2.3.4/0"] {
            let fast = IPPrefix.v4Prefix(text.utf8)
            // The general parser, without the fast path: address, then length.
            var slow: IPPrefix? = nil
            if let slash = text.firstIndex(of: "/"), let addr = IPAddress(String(text[..<slash])), addr.family == .v4 {
                let len = text[text.index(after: slash)...]
                if let n = Int(len), !len.isEmpty, len.allSatisfy(\.isNumber), !(len.count > 1 && len.first == "0"), n <= 32 {
                    slow = IPPrefix(address: addr, length: n)
                }
            }
            XCTAssertEqual(fast, slow, text)
        }
    }

    func testRulesetKeepsDestinationMapsOutOfTheTextAndFingerprintsThem() throws {
        let config = try XCTUnwrap(try? ConfigDecoder.decode(Self.config(denies: ["198.51.100.0/24", "203.0.113.0/25"])).get())
        let rs = try XCTUnwrap(NftRenderer.render(config))
        XCTAssertFalse(rs.text.contains("198.51.100.0"), "destination elements are loaded raw, not parsed by nft")
        XCTAssertFalse(rs.text.contains("auto-merge"), "auto-merge makes libnftables load the whole ruleset")
        XCTAssertTrue(rs.text.contains("counter fs_\(rs.skeletonFingerprint)") && rs.text.contains("counter fp_\(rs.fingerprint)"))
        XCTAssertTrue(rs.fullText.contains("198.51.100.0-198.51.100.255 : continue"))
        let v4 = try XCTUnwrap(rs.maps.first { $0.name == "g0_dst4" })
        XCTAssertEqual(v4.intervals.first?.low, a("0.0.0.0"))
        XCTAssertEqual(v4.intervals.last?.high, a("255.255.255.255"))

        // Another prefix: same skeleton, other fingerprint. Another bundle shape: other skeleton.
        let moved = try XCTUnwrap(NftRenderer.render(try ConfigDecoder.decode(Self.config(denies: ["198.51.100.0/24", "203.0.113.128/25"])).get()))
        XCTAssertEqual(moved.skeletonFingerprint, rs.skeletonFingerprint)
        XCTAssertNotEqual(moved.fingerprint, rs.fingerprint)
        let ports = try XCTUnwrap(NftRenderer.render(try ConfigDecoder.decode(Self.config(denies: ["198.51.100.0/24"], tcp443: true)).get()))
        XCTAssertNotEqual(ports.skeletonFingerprint, rs.skeletonFingerprint)
    }

    func testStagingTransactionPutsExtrasInlineAndRefusesUnknownSets() throws {
        let config = try ConfigDecoder.decode(Self.config(denies: ["198.51.100.0/24"])).get()
        let rs = try XCTUnwrap(NftRenderer.render(config))
        let extras = GrantState.elements([Grant(from: IPPrefix("10.128.0.0/16")!, to: IPPrefix("192.0.2.0/24")!, expires: 160),
                                          Grant(from: IPPrefix("10.128.1.0/24")!, to: IPPrefix("192.0.2.7/32")!, expires: 109)], nowMs: 100_000)
        let text = try XCTUnwrap(rs.stagingTransaction(extras: extras))
        XCTAssertTrue(text.hasPrefix("table inet gatepeer_stage\ndelete table inet gatepeer_stage\ntable inet gatepeer_stage {\n  flags dormant\n"))
        XCTAssertTrue(text.contains("  set grants4a {\n    elements = { 10.128.0.0/16 . 192.0.2.0/24 timeout 60s expires 60s, 10.128.1.0/24 . 192.0.2.7/32 timeout 9s expires 9s }\n"))
        XCTAssertFalse(text.contains("add element"), "an add-element command makes libnftables load the whole ruleset")
        XCTAssertNil(rs.stagingTransaction(extras: [NftElement(set: "nosuchset", key: [.address(IPAddress("192.0.2.1")!)], interval: false)]))
    }

    static func config(denies: [String], tcp443: Bool = false) -> String {
        var rules = denies.map { "{\"action\": \"deny\", \"destination\": \"\($0)\"}" }
        if tcp443 { rules.append("{\"action\": \"allow\", \"destination\": \"198.51.100.0/24\", \"protocol\": \"tcp\", \"ports\": [443]}") }
        return """
        {"links": [{"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
          "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"}]}],
         "filter": {"uplinkDevice": "uplink", "backendPrefixes": ["172.31.0.0/24"],
          "outbound": [{"name": "fleet", "default": "allow", "rules": [\(rules.joined(separator: ", "))]}]}}
        """
    }
}
