import XCTest
@testable import GatePeerCore

func rule(_ a: FilterAction, _ dest: String, _ proto: ProtocolMatch = .any, _ ports: [PortRange] = []) -> OutboundRule {
    OutboundRule(action: a, destination: .prefix(IPPrefix(dest)!), protocolMatch: proto, ports: ports)
}
let tcp = ProtocolMatch.number(6), udp = ProtocolMatch.number(17), icmp = ProtocolMatch.number(1)
func ports(_ lo: UInt16, _ hi: UInt16? = nil) -> PortRange { PortRange(low: lo, high: hi ?? lo) }

final class PolicyCompilerTests: XCTestCase {
    func compiled(_ rules: [OutboundRule], default d: FilterAction = .deny) throws -> CompiledPolicy {
        try PolicyCompiler.compile(OutboundGroup(name: "g", sources: [], defaultAction: d, rules: rules)).get()
    }

    func check(_ p: CompiledPolicy, _ dst: String, _ proto: UInt8?, _ port: UInt16?, _ action: FilterAction, _ rule: Int?,
               file: StaticString = #filePath, line: UInt = #line) {
        let o = p.evaluate(destination: IPAddress(dst)!, proto: proto, port: port)
        XCTAssertEqual(o.action, action, "\(dst) \(proto.map(String.init) ?? "-")/\(port.map(String.init) ?? "-")", file: file, line: line)
        XCTAssertEqual(o.rule, rule, "\(dst) deciding rule", file: file, line: line)
    }

    func testMostSpecificPrefixWinsNotListOrder() throws {
        // The vendor's example: deny everything, allow one host.
        let p = try compiled([rule(.deny, "0.0.0.0/0"), rule(.allow, "203.0.113.50/32")])
        check(p, "203.0.113.50", 6, 443, .allow, 1)
        check(p, "203.0.113.51", 6, 443, .deny, 0)
        check(p, "0.0.0.0", nil, nil, .deny, 0)
        check(p, "255.255.255.255", nil, nil, .deny, 0)
    }

    func testNestedPrefixes() throws {
        let p = try compiled([rule(.allow, "10.0.0.0/8"), rule(.deny, "10.1.0.0/16"), rule(.allow, "10.1.2.0/24")])
        check(p, "10.1.2.3", 17, 53, .allow, 2)
        check(p, "10.1.3.3", 17, 53, .deny, 1)
        check(p, "10.1.255.255", 17, 53, .deny, 1)
        check(p, "10.2.0.1", 17, 53, .allow, 0)
        check(p, "9.255.255.255", 17, 53, .deny, nil)
        check(p, "11.0.0.0", 17, 53, .deny, nil)
        XCTAssertTrue(p.bundles.isEmpty, "prefix-only rules need no chains")
        // Adjacent pieces with one decision merge: 10/8 splits into 3 around 10.1/16, which splits around 10.1.2/24.
        XCTAssertEqual(p.v4.count, 7)
    }

    func testProtocolBeatsAnyAndPortBeatsProtocol() throws {
        let p = try compiled([rule(.deny, "203.0.113.0/24"), rule(.allow, "203.0.113.0/24", tcp),
                              rule(.deny, "203.0.113.0/24", tcp, [ports(25)])])
        check(p, "203.0.113.9", 6, 80, .allow, 1)
        check(p, "203.0.113.9", 6, 25, .deny, 2)
        check(p, "203.0.113.9", 17, 25, .deny, 0)
        check(p, "203.0.113.9", 1, nil, .deny, 0)
    }

    func testFallsBackToLessSpecificPrefixThenDefault() throws {
        let p = try compiled([rule(.deny, "0.0.0.0/0"), rule(.allow, "203.0.113.50/32", tcp, [ports(443)])], default: .allow)
        check(p, "203.0.113.50", 6, 443, .allow, 1)
        check(p, "203.0.113.50", 6, 80, .deny, 0)
        check(p, "203.0.113.50", 17, 443, .deny, 0)
        let q = try compiled([rule(.allow, "203.0.113.50/32", tcp, [ports(443)])])
        check(q, "203.0.113.50", 17, 53, .deny, nil)
        check(q, "203.0.113.50", 6, 443, .allow, 0)
    }

    func testHostPrefixesAndIPv6() throws {
        let p = try compiled([rule(.allow, "::/0"), rule(.deny, "2001:db8::/32"), rule(.allow, "2001:db8::1/128"),
                              rule(.allow, "192.0.2.1/32")])
        check(p, "2001:db8::1", 58, nil, .allow, 2)
        check(p, "2001:db8::2", 58, nil, .deny, 1)
        check(p, "2001:db9::1", 58, nil, .allow, 0)
        check(p, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6, 1, .allow, 0)
        check(p, "192.0.2.1", 6, 1, .allow, 3)
        check(p, "192.0.2.2", 6, 1, .deny, nil)
        XCTAssertEqual(p.v6.first?.low, IPAddress("::"))
        XCTAssertEqual(p.v6.last?.high, IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
    }

    func testOverlappingPortRanges() throws {
        let p = try compiled([rule(.allow, "0.0.0.0/0", tcp, [ports(1000, 2000)]), rule(.deny, "0.0.0.0/0", tcp, [ports(1500)]),
                              rule(.deny, "0.0.0.0/0", tcp, [ports(1800, 1900)])], default: .allow)
        check(p, "198.51.100.1", 6, 999, .allow, nil)
        check(p, "198.51.100.1", 6, 1000, .allow, 0)
        check(p, "198.51.100.1", 6, 1500, .deny, 1)
        check(p, "198.51.100.1", 6, 1501, .allow, 0)
        check(p, "198.51.100.1", 6, 1850, .deny, 2)
        check(p, "198.51.100.1", 6, 2000, .allow, 0)
        check(p, "198.51.100.1", 6, 2001, .allow, nil)
    }

    func testTiesAreErrors() {
        func problems(_ rules: [OutboundRule]) -> [String] {
            if case .failure(let e) = PolicyCompiler.compile(OutboundGroup(name: "g", sources: [], rules: rules)) { return e.problems.map(\.description) }
            return []
        }
        XCTAssertEqual(problems([rule(.allow, "203.0.113.0/24"), rule(.deny, "203.0.113.0/24")]).first?.hasPrefix("rules[1]: ties with rules[0]"), true)
        XCTAssertEqual(problems([rule(.allow, "203.0.113.0/24", udp), rule(.deny, "203.0.113.0/24", udp)]).count, 1)
        XCTAssertEqual(problems([rule(.allow, "0.0.0.0/0", tcp, [ports(1000, 2000)]), rule(.deny, "0.0.0.0/0", tcp, [ports(1500, 2500)])]).count, 1)
        XCTAssertEqual(problems([rule(.allow, "0.0.0.0/0", tcp, [ports(443)]), rule(.deny, "0.0.0.0/0", tcp, [ports(443)])]).count, 1)
        // Same action twice is not a tie; different protocols never tie.
        XCTAssertEqual(problems([rule(.allow, "203.0.113.0/24"), rule(.allow, "203.0.113.0/24")]), [])
        XCTAssertEqual(problems([rule(.allow, "203.0.113.0/24", tcp), rule(.deny, "203.0.113.0/24", udp)]), [])
    }

    /// The compiled form must agree with the definition, evaluated by brute force, for
    /// random policies: nested prefixes, protocols, overlapping port ranges. Every other
    /// policy is dense (three prefixes, a few short port ranges, mostly one action), so
    /// rules tie on prefix, protocol and port width and the credit for a tie is checked.
    func testAgreesWithBruteForceReference() throws {
        // A fresh seed each run, named in every failure; GATEPEER_TEST_SEED replays one.
        let seed = ProcessInfo.processInfo.environment["GATEPEER_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        var compared = 0, tiesCompared = 0
        let densePrefixes = ["10.0.0.0/24", "10.0.0.0/28", "10.0.0.16/28"].map { IPPrefix($0)! }
        for n in 0..<600 {
            let dense = n % 2 == 1
            var rules: [OutboundRule] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let pre: IPPrefix
                if dense {
                    pre = densePrefixes.randomElement(using: &rng)!
                } else {
                    let len = Int.random(in: 20...32, using: &rng)
                    pre = IPPrefix(address: IPAddress(v4: 0x0a00_0000 | UInt32.random(in: 0...0xffff, using: &rng) << 4), length: len)!.network
                }
                let proto: ProtocolMatch = [.any, tcp, udp].randomElement(using: &rng)!
                var pr: [PortRange] = []
                if proto != .any && Bool.random(using: &rng) {
                    let lo = dense ? UInt16.random(in: 1...6, using: &rng) : UInt16.random(in: 1...60, using: &rng)
                    pr = [PortRange(low: lo, high: lo + UInt16.random(in: 0...(dense ? 2 : 20), using: &rng))]
                }
                let allow = dense ? Int.random(in: 0..<5, using: &rng) > 0 : Bool.random(using: &rng)
                rules.append(OutboundRule(action: allow ? .allow : .deny, destination: .prefix(pre), protocolMatch: proto, ports: pr))
            }
            let group = OutboundGroup(name: "g", sources: [], defaultAction: Bool.random(using: &rng) ? .allow : .deny, rules: rules)
            guard case .success(let p) = PolicyCompiler.compile(group) else { continue }
            for _ in 0..<40 {
                let dst = IPAddress(v4: 0x0a00_0000 | (dense ? UInt32.random(in: 0...0x3f, using: &rng) : UInt32.random(in: 0...0xfffff, using: &rng)))
                let proto: UInt8 = [6, 17, 1].randomElement(using: &rng)!
                let port: UInt16? = proto == 1 ? nil : UInt16.random(in: 1...(dense ? 10 : 90), using: &rng)
                let got = p.evaluate(destination: dst, proto: proto, port: port)
                let want = reference(group, dst, proto, port)
                // The deciding rule too: it names the counter and `filter check`'s answer
                // (comparing actions alone passed with a tie credited to the wrong rule).
                XCTAssertEqual(got, want.outcome, "seed \(seed): \(rules.map(\.summary)) \(dst) \(proto)/\(port ?? 0)")
                compared += 1
                if want.tied > 1 { tiesCompared += 1 }
            }
        }
        XCTAssertGreaterThan(compared, 10_000, "seed \(seed)")
        XCTAssertGreaterThan(tiesCompared, 200, "seed \(seed): too few packets decided by a tie")
    }

    /// The port flattening is a sweep over sorted cut points; it must give exactly what
    /// the old quadratic form (every candidate checked at every cut point, kept below as
    /// the reference) gave: the same pieces, outcomes and the same tie report.
    func testPortSweepAgreesWithQuadraticReference() {
        let seed = ProcessInfo.processInfo.environment["GATEPEER_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        var ties = 0, flattened = 0
        for _ in 0..<3000 {
            var candidates: [(PortRange, CompiledPolicy.Outcome)] = []
            var rule = 0
            for _ in 0..<Int.random(in: 1...10, using: &rng) {
                let outcome = CompiledPolicy.Outcome(action: Bool.random(using: &rng) ? .allow : .deny, rule: rule)
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    // Near the ends of the port space too: high + 1 is past UInt16 there.
                    let lo = Bool.random(using: &rng) ? UInt16.random(in: 0...40, using: &rng) : UInt16.random(in: 65_500...65_535, using: &rng)
                    let hi = lo &+ UInt16.random(in: 0...30, using: &rng)
                    candidates.append((PortRange(low: lo, high: hi < lo ? .max : hi), outcome))
                }
                rule += Int.random(in: 1...2, using: &rng)
            }
            let got = PolicyCompiler.flattenPorts(candidates), want = quadraticFlatten(candidates)
            switch (got, want) {
            case (.success(let a), .success(let b)):
                XCTAssertEqual(a.map { "\($0.0.portText)=\($0.1.action)\($0.1.rule ?? -1)" }, b.map { "\($0.0.portText)=\($0.1.action)\($0.1.rule ?? -1)" }, "seed \(seed)")
                flattened += 1
            case (.failure(let a), .failure(let b)):
                XCTAssertEqual("\(a.a) \(a.b) \(a.range)", "\(b.a) \(b.b) \(b.range)", "seed \(seed)")
                ties += 1
            default:
                XCTFail("seed \(seed): \(candidates.map { "\($0.0.portText)=\($0.1.action)\($0.1.rule ?? -1)" }): \(got) vs \(want)")
            }
        }
        XCTAssertGreaterThan(ties, 100, "seed \(seed)")
        XCTAssertGreaterThan(flattened, 100, "seed \(seed)")
    }

    /// The flattening as it was before the sweep (O(cut points x candidates)).
    func quadraticFlatten(_ candidates: [(PortRange, CompiledPolicy.Outcome)]) -> Result<[(PortRange, CompiledPolicy.Outcome)], PolicyCompiler.PortTie> {
        func width(_ r: PortRange) -> Int { Int(r.high) - Int(r.low) }
        var cuts = Set<Int>()
        for (r, _) in candidates { cuts.insert(Int(r.low)); cuts.insert(Int(r.high) + 1) }
        let points = cuts.sorted()
        var out: [(PortRange, CompiledPolicy.Outcome)] = []
        for (i, start) in points.enumerated() where i + 1 < points.count {
            let end = points[i + 1] - 1
            let covering = candidates.filter { Int($0.0.low) <= start && end <= Int($0.0.high) }
            guard let narrowest = covering.min(by: { width($0.0) < width($1.0) }) else { continue }
            if let rival = covering.first(where: { width($0.0) == width(narrowest.0) && $0.1.action != narrowest.1.action }) {
                let a = max(narrowest.1.rule ?? 0, rival.1.rule ?? 0), b = min(narrowest.1.rule ?? 0, rival.1.rule ?? 0)
                return .failure(PolicyCompiler.PortTie(a, b, "\(start)-\(end)"))
            }
            let winner = covering.filter { width($0.0) == width(narrowest.0) }.min { ($0.1.rule ?? 0) < ($1.1.rule ?? 0) }!
            let piece = PortRange(low: UInt16(start), high: UInt16(end))
            if let last = out.last, last.1 == winner.1, Int(last.0.high) + 1 == start {
                out[out.count - 1] = (PortRange(low: last.0.low, high: piece.high), winner.1)
            } else {
                out.append((piece, winner.1))
            }
        }
        return .success(out)
    }

    /// The definition: most specific prefix, then specific protocol, then the narrowest
    /// port range; nothing matching means the default.
    /// `tied`: how many rules share the winner's key (the first of them wins).
    func reference(_ g: OutboundGroup, _ dst: IPAddress, _ proto: UInt8, _ port: UInt16?) -> (outcome: CompiledPolicy.Outcome, tied: Int) {
        var best: (key: (Int, Int, Int), outcome: CompiledPolicy.Outcome)? = nil
        var tied = 0
        for (i, r) in g.rules.enumerated() {
            guard case .prefix(let pre) = r.destination, pre.contains(dst) else { continue }
            var protoScore = 0, portScore = 0
            if case .number(let n) = r.protocolMatch {
                guard n == proto else { continue }
                protoScore = 1
            }
            if !r.ports.isEmpty {
                guard let port, let range = r.ports.first(where: { $0.low <= port && port <= $0.high }) else { continue }
                portScore = 100_000 - (Int(range.high) - Int(range.low))
            }
            let key = (pre.length, protoScore, portScore)
            if best == nil || key > best!.key { best = (key, .init(action: r.action, rule: i)); tied = 1 } else if key == best!.key { tied += 1 }
        }
        return (best?.outcome ?? .init(action: g.defaultAction, rule: nil), tied)
    }
}

/// A small seeded generator (SplitMix64), so a failing random case can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
