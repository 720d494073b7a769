import XCTest
@testable import GatePeerCore
@testable import GatePeerKernel
import CNetlink

/// Each request kind against the bytes the libmnl-based encoder (main at c2be3b6) built
/// for the same input (Fixtures/golden, sequence numbers zeroed): the writer is the
/// same wire format, byte for byte, chunk boundaries included.
final class NetlinkGoldenTests: XCTestCase {
    let spec = LinkSpec(name: "gp-test", alias: "gatepeer:gp-test", vxlanId: 4242, port: 4789, portRange: PortRange(low: 4789, high: 4789),
                        underlayName: "eth0", underlayIndex: 3, local: IPAddress("192.0.2.10")!, mtu: 1450,
                        mac: MACAddress("02:00:00:aa:bb:cc")!, learning: false)

    /// The bytes of `build`'s requests, all chunks back to back, and the chunk sizes.
    /// The last request of each chunk must carry NLM_F_ACK (set when the chunk is sealed;
    /// libmnl's bytes got it at send time) and only it; it is cleared here so the bytes
    /// compare with the fixtures.
    func encode(_ build: (RequestBatch) -> Void, file: StaticString = #filePath, line: UInt = #line) -> ([UInt8], [Int]) {
        let b = RequestBatch(sequence: NetlinkSequence(start: 0))
        build(b)
        b.finish()
        let chunks = b.chunks.map { chunk -> [UInt8] in
            var bytes = chunk.writer.bytes
            var at = 0
            while at + 16 <= bytes.count {
                let length = Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
                let last = at == chunk.writer.lastMessageStart
                XCTAssertEqual(bytes[at + 6] & UInt8(NetlinkFlags.ack) != 0, last, "NLM_F_ACK at byte \(at)", file: file, line: line)
                if last { bytes[at + 6] &= ~UInt8(NetlinkFlags.ack) }
                at += (length + 3) & ~3
            }
            return bytes
        }
        return (chunks.flatMap { $0 }, b.chunks.map(\.writer.count))
    }

    func assertGolden(_ name: String, _ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        let want = try Fixtures.hex("golden/\(name).hex")
        XCTAssertEqual(Fixtures.hexText(Fixtures.zeroingSequences(bytes)), Fixtures.hexText(want), name, file: file, line: line)
    }

    func testLinkRequests() throws {
        var spec6 = spec
        spec6.local = IPAddress("2001:db8::10")!
        spec6.learning = true
        try assertGolden("create-link", encode { RtnetlinkCodec.createLink($0, spec, tag: ChangeTag(0)) }.0)
        try assertGolden("create-link-v6", encode { RtnetlinkCodec.createLink($0, spec6, tag: ChangeTag(0)) }.0)
        let attrs = [LinkAttribute.local, .dev, .learning, .mtu, .mac, .alias].map { Plan.AttributeChange(attribute: $0, old: "a", new: "b") }
        try assertGolden("change-link", encode { RtnetlinkCodec.changeLink($0, spec, index: 7, attrs, tag: ChangeTag(0)) }.0)
        try assertGolden("change-link-mtu", encode { RtnetlinkCodec.changeLink($0, spec, index: 7, [attrs[3]], tag: ChangeTag(0)) }.0)
        try assertGolden("mark-link", encode { RtnetlinkCodec.markLink($0, name: "gp-test", alias: "gatepeer:gp-test", index: 7, tag: ChangeTag(0)) }.0)
        try assertGolden("link-up", encode { RtnetlinkCodec.setLinkUp($0, name: "gp-test", index: 7, tag: ChangeTag(0)) }.0)
        try assertGolden("delete-link", encode { RtnetlinkCodec.deleteLink($0, name: "gp-test", index: 7, tag: ChangeTag(0)) }.0)
    }

    /// Every attribute the planner can change goes out in exactly one request that names it.
    func testEveryLinkAttributeIsSent() {
        for a in LinkAttribute.allCases {
            let b = RequestBatch(sequence: NetlinkSequence(start: 0))
            RtnetlinkCodec.changeLink(b, spec, index: 7, [Plan.AttributeChange(attribute: a, old: "x", new: "y")], tag: ChangeTag(0))
            b.finish()
            let described = b.chunks.flatMap { $0.requests.values.map { $0.describe() } }
            XCTAssertEqual(described, ["change link gp-test (\(a))"], "\(a)")
        }
    }

    func testAddressRequests() throws {
        try assertGolden("address-add", encode { RtnetlinkCodec.address($0, add: true, link: "gp-test", index: 7, IPPrefix("10.128.0.1/24")!, tag: ChangeTag(0)) }.0)
        try assertGolden("address-delete-v6", encode { RtnetlinkCodec.address($0, add: false, link: "gp-test", index: 7, IPPrefix("fd00::1/64")!, tag: ChangeTag(0)) }.0)
    }

    func testFDBRequests() throws {
        try assertGolden("fdb-append", encode { RtnetlinkCodec.appendFDB($0, link: "gp-test", index: 7, destination: IPAddress("198.51.100.7")!, tag: ChangeTag(0)) }.0)
        let e = ObservedFDBEntry(linkIndex: 7, mac: MACAddress.zero, destination: IPAddress("198.51.100.8")!, state: 0x80, flags: 2,
                                 port: 4790, vni: 99, sourceVNI: 98, outgoingIndex: 3)
        try assertGolden("fdb-delete", encode { RtnetlinkCodec.deleteFDB($0, link: "gp-test", e, tag: ChangeTag(0)) }.0)
        let e2 = ObservedFDBEntry(linkIndex: 7, mac: MACAddress.zero, destination: nil, state: 0x80, flags: 2, port: nil, vni: nil, sourceVNI: nil, outgoingIndex: nil)
        try assertGolden("fdb-delete-minimal", encode { RtnetlinkCodec.deleteFDB($0, link: "gp-test", e2, tag: ChangeTag(0)) }.0)
    }

    func testRouteRequests() throws {
        try assertGolden("route-add", encode { RtnetlinkCodec.route($0, .add, destination: IPPrefix("10.200.0.0/16")!, via: IPAddress("10.128.0.254")!, index: 7, label: "gp-test", tag: ChangeTag(0)) }.0)
        try assertGolden("route-replace-v6", encode { RtnetlinkCodec.route($0, .replace, destination: IPPrefix("fd10::/48")!, via: nil, index: 7, label: "gp-test", tag: ChangeTag(0)) }.0)
        let r = ObservedRoute(table: 1000, protocolNumber: 201, destination: IPPrefix("10.201.0.0/16")!, gateway: IPAddress("10.128.0.254")!,
                              outputIndex: 7, type: 1, priority: 50, scope: 0)
        try assertGolden("route-delete", encode { RtnetlinkCodec.deleteRoute($0, r, label: "gp-test", tag: ChangeTag(0)) }.0)
        let r2 = ObservedRoute(protocolNumber: 201, destination: IPPrefix("10.202.0.0/16")!, gateway: nil, outputIndex: nil)
        try assertGolden("route-delete-minimal", encode { RtnetlinkCodec.deleteRoute($0, r2, label: "", tag: ChangeTag(0)) }.0)
    }

    /// 3,000 routes: chunks of at most 96 KiB, split where libmnl's batch split them.
    func testChunking() throws {
        let (bytes, sizes) = encode { b in
            for i in 0..<3000 {
                RtnetlinkCodec.route(b, .add, destination: IPPrefix(address: IPAddress(v4: 0x0a00_0000 | UInt32(i) << 8), length: 24)!,
                                     via: IPAddress("10.128.0.254")!, index: 7, label: "gp-test", tag: ChangeTag(0))
            }
        }
        XCTAssertEqual(sizes.map(String.init).joined(separator: " ") + "\n", try Fixtures.text("golden/many-routes.chunks"))
        XCTAssertEqual(Fixtures.fnv(Fixtures.zeroingSequences(bytes)) + "\n", try Fixtures.text("golden/many-routes.fnv"))
        XCTAssertTrue(sizes.allSatisfy { $0 <= 96 * 1024 })
    }

    /// Each chunk knows where its last request starts (it gets NLM_F_ACK when sent) and
    /// that request's sequence number (its ACK closes the chunk), also across a split.
    func testChunkEnds() throws {
        let b = RequestBatch(sequence: NetlinkSequence(start: 0), limit: 200)
        for i in 0..<7 {
            RtnetlinkCodec.address(b, add: true, link: "gp-test", index: 7, IPPrefix(address: IPAddress(v4: 0x0a00_0000 | UInt32(i)), length: 32)!, tag: ChangeTag(i))
        }
        b.finish()
        XCTAssertEqual(b.chunks.map(\.requests.count), [5, 2])  // 40-byte requests, 200 bytes a chunk
        for chunk in b.chunks {
            var starts: [(Int, UInt32)] = []
            try chunk.writer.bytes.withUnsafeBytes { raw in
                try NetlinkReader.forEachMessage(in: raw) { m in
                    starts.append((raw.baseAddress!.distance(to: m.payload.baseAddress!) - 16, m.sequence))
                }
            }
            XCTAssertEqual(chunk.writer.lastMessageStart, starts.last?.0)
            XCTAssertEqual(chunk.lastSequence, starts.last?.1)
            XCTAssertEqual(Set(chunk.requests.keys), Set(starts.map(\.1)))
        }
        XCTAssertEqual(b.chunks.flatMap { $0.requests.values.map(\.tag) }.sorted(), (0..<7).map(ChangeTag.init))
    }

    func testNftablesBatch() throws {
        var n = NftBatch(firstSequence: 100)
        n.table("gatepeer", dormant: true, create: true)
        n.counter(table: "gatepeer", name: "fk_0123abcd")
        n.elements(table: "gatepeer", [
            NftElement(set: "grants4", key: [.prefix(IPPrefix("10.128.0.11/32")!), .prefix(IPPrefix("203.0.113.0/24")!), .proto(6), .ports(PortRange(low: 22, high: 22))], interval: true, timeoutMs: 3_600_000, gotoChain: nil),
            NftElement(set: "grants4", key: [.prefix(IPPrefix("10.128.0.12/32")!), .prefix(IPPrefix("203.0.113.0/24")!), .proto(17), .ports(PortRange(low: 53, high: 54))], interval: true),
            NftElement(set: "learned4", key: [.address(IPAddress("198.51.100.1")!)], interval: false, timeoutMs: 60_000, gotoChain: "rule_7"),
        ], add: true)
        n.elements(table: "gatepeer", [NftElement(set: "learned4", key: [.address(IPAddress("198.51.100.1")!)], interval: false, timeoutMs: 60_000, gotoChain: "rule_7")], add: false)
        n.intervalElements(table: "gatepeer", map: "dst4", [
            MapInterval(low: IPAddress("0.0.0.0")!, high: IPAddress("9.255.255.255")!, verdict: MapInterval.deny),
            MapInterval(low: IPAddress("10.0.0.0")!, high: IPAddress("10.0.0.255")!, verdict: MapInterval.allow),
            MapInterval(low: IPAddress("10.0.1.0")!, high: IPAddress("255.255.255.255")!, verdict: "bundle_3"),
        ], add: true)
        n.intervalElements(table: "gatepeer", map: "dst6", [
            MapInterval(low: IPAddress("::")!, high: IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!, verdict: MapInterval.deny),
        ], add: false)
        n.table("gatepeer", dormant: false, create: false)
        n.deleteTable("gatepeer_stage")
        n.finish()
        try assertGolden("nft-batch", n.bytes)
        XCTAssertEqual(n.messageCount, 9)
    }

    /// 5,000 interval-map elements: split into messages where the old encoder split them.
    func testNftablesIntervals() throws {
        var big = NftBatch(firstSequence: 1)
        let iv = (0..<5000).map { i in
            MapInterval(low: IPAddress(v4: UInt32(i) << 12), high: IPAddress(v4: UInt32(i) << 12 | 0xfff), verdict: i % 3 == 0 ? MapInterval.allow : "bundle_\(i % 7)")
        }
        big.intervalElements(table: "gatepeer", map: "dst4", iv, add: true)
        big.finish()
        XCTAssertEqual(Fixtures.fnv(Fixtures.zeroingSequences(big.bytes)) + "\n", try Fixtures.text("golden/nft-intervals-5000.fnv"))
    }

    /// A rule read from a dump (Fixtures/golden/nft-rule-dump.hex) copied into another
    /// table: handle dropped, table renamed, an exthdr that writes loses NFTA_EXTHDR_FLAGS.
    func testRuleCopy() throws {
        let dump = try Fixtures.hex("golden/nft-rule-dump.hex")
        var cb = NftBatch(firstSequence: 200)
        try dump.withUnsafeBytes { raw in
            try NetlinkReader.forEachMessage(in: raw) { m in
                cb.copy(NftObject(m, kind: "rule in chain", nameType: 2), as: NFT_MSG_NEWRULE, into: "gatepeer",
                        flags: NLM_F_CREATE | NLM_F_APPEND, keep: Kernel.ruleKeep)
            }
        }
        cb.finish()
        try assertGolden("nft-rule-copy", cb.bytes)
    }

    /// What iproute2 6.1 sends for the same objects (strace -e write= of `ip addr add
    /// 10.128.0.1/24 dev gp-test`, `ip route add 10.200.0.0/16 via 10.128.0.254 dev gp-test
    /// proto 201`, `bridge fdb append 00:00:00:00:00:00 dev gp-test dst 198.51.100.7`,
    /// `ip link del gp-test`; gp-test was index 4): the same bytes once the sequence
    /// number and NLM_F_ACK (ours is set when the chunk is sent) are set aside. One
    /// known difference: bridge marks the FDB entry NUD_NOARP|NUD_PERMANENT, gatepeer
    /// NUD_PERMANENT only; the vxlan driver needs either of PERMANENT or REACHABLE and
    /// dumps the entry as permanent both ways.
    func testSameBytesAsIproute2() throws {
        func iproute2(_ name: String) throws -> [UInt8] {
            var b = Fixtures.zeroingSequences(try Fixtures.hex("iproute2/\(name).hex"))
            b[6] &= ~UInt8(NLM_F_ACK)
            return b
        }
        func ours(_ build: (RequestBatch) -> Void) -> [UInt8] { Fixtures.zeroingSequences(encode(build).0) }
        XCTAssertEqual(ours { RtnetlinkCodec.address($0, add: true, link: "gp-test", index: 4, IPPrefix("10.128.0.1/24")!, tag: ChangeTag(0)) }, try iproute2("addr"))
        XCTAssertEqual(ours { RtnetlinkCodec.route($0, .add, destination: IPPrefix("10.200.0.0/16")!, via: IPAddress("10.128.0.254")!, index: 4, label: "gp-test", tag: ChangeTag(0)) },
                       try iproute2("route"))
        XCTAssertEqual(ours { RtnetlinkCodec.deleteLink($0, name: "gp-test", index: 4, tag: ChangeTag(0)) }, try iproute2("linkdel"))
        var fdb = try iproute2("fdb")
        XCTAssertEqual(fdb[24], UInt8(NUD_NOARP | NUD_PERMANENT))
        fdb[24] = UInt8(NUD_PERMANENT)
        XCTAssertEqual(ours { RtnetlinkCodec.appendFDB($0, link: "gp-test", index: 4, destination: IPAddress("198.51.100.7")!, tag: ChangeTag(0)) }, fdb)
    }
}
