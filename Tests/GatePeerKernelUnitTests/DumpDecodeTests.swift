import XCTest
@testable import GatePeerCore
@testable import GatePeerKernel

/// Real dump replies, captured in a scratch namespace (Fixtures/dumps: the reply
/// datagrams of RTM_GETLINK, RTM_GETADDR, RTM_GETNEIGH for AF_BRIDGE and RTM_GETROUTE,
/// as the kernel sent them), decoded by the codec: every fact `ip -j` and `bridge -j`
/// showed for the same namespace comes out.
///
/// The namespace: veth under0 (index 3, altname underlay-alt, 192.0.2.10/24) and its
/// peer under1; vxlan gp-test (index 4, id 4242, dstport 4789, local 192.0.2.10, dev
/// under0, nolearning, mac 02:00:00:aa:bb:cc, mtu 1450, alias gatepeer:gp-test) with
/// 10.128.0.1/24 and fd00::1/64; two all-zero FDB entries (dst 198.51.100.7; dst
/// 198.51.100.8 port 4790 vni 99 via under0); routes proto 201: 10.200.0.0/16 via
/// 10.128.0.254, fd10::/48 dev gp-test metric 50, 10.201.0.0/16 via 10.128.0.254 table 1000.
final class DumpDecodeTests: XCTestCase {
    /// Every message of a fixture through `parse`, and whether NLMSG_DONE closed it.
    static func decode<T>(_ name: String, _ parse: (NetlinkMessage) -> T?) throws -> (values: [T], done: Bool) {
        let bytes = try Fixtures.hex("dumps/\(name).hex")
        var out: [T] = []
        var done = false
        try bytes.withUnsafeBytes { raw in
            try NetlinkReader.forEachMessage(in: raw) { m in
                if m.type == NetlinkMessageType.done { done = true }
                if let v = parse(m) { out.append(v) }
            }
        }
        return (out, done)
    }

    func testLinks() throws {
        let (links, done) = try Self.decode("links", RtnetlinkCodec.parseLink)
        XCTAssertTrue(done)
        XCTAssertEqual(links.map(\.name), ["lo", "under1", "under0", "gp-test"])
        let under = try XCTUnwrap(links.first { $0.name == "under0" })
        XCTAssertEqual(under.index, 3)
        XCTAssertEqual(under.altNames, ["underlay-alt"])
        XCTAssertEqual(under.kind, "veth")
        let vx = try XCTUnwrap(links.first { $0.name == "gp-test" })
        XCTAssertEqual(vx.index, 4)
        XCTAssertEqual(vx.mtu, 1450)
        XCTAssertEqual(vx.alias, "gatepeer:gp-test")
        XCTAssertEqual(vx.mac, MACAddress("02:00:00:aa:bb:cc"))
        XCTAssertTrue(vx.isUp)
        XCTAssertEqual(vx.kind, "vxlan")
        let v = try XCTUnwrap(vx.vxlan)
        XCTAssertEqual(v.id, 4242)
        XCTAssertEqual(v.port, 4789)
        XCTAssertEqual(v.local, IPAddress("192.0.2.10"))
        XCTAssertEqual(v.underlayIndex, 3)
        XCTAssertFalse(v.learning)
        XCTAssertEqual(v.receiveFlags, [])
        XCTAssertNil(v.group)
    }

    func testAddresses() throws {
        let (addrs, done) = try Self.decode("addresses", RtnetlinkCodec.parseAddress)
        XCTAssertTrue(done)
        let text = Set(addrs.map { "\($0.linkIndex) \($0.prefix)" })
        for want in ["3 192.0.2.10/24", "3 2001:db8::10/64", "4 10.128.0.1/24", "4 fd00::1/64", "1 127.0.0.1/8"] {
            XCTAssertTrue(text.contains(want), "\(want) not in \(text.sorted())")
        }
    }

    func testFDB() throws {
        let (fdb, done) = try Self.decode("fdb", RtnetlinkCodec.parseFDB)
        XCTAssertTrue(done)
        let remotes = fdb.filter { $0.linkIndex == 4 && $0.mac == .zero }
        XCTAssertEqual(remotes.compactMap(\.destination), [IPAddress("198.51.100.7")!, IPAddress("198.51.100.8")!])
        let second = try XCTUnwrap(remotes.last)
        XCTAssertEqual(second.port, 4790)
        XCTAssertEqual(second.vni, 99)
        XCTAssertEqual(second.outgoingIndex, 3)
        XCTAssertTrue(second.permanent)
        XCTAssertNil(remotes[0].port)
    }

    func testRoutes() throws {
        let (routes, done) = try Self.decode("routes", RtnetlinkCodec.parseRoute)
        XCTAssertTrue(done)
        let ours = routes.filter(\.hasOurProtocol)
        let text = Set(ours.map { "\($0.table) \($0.destination) \($0.gateway.map { "\($0)" } ?? "-") \($0.outputIndex ?? 0) \($0.priority ?? 0)" })
        XCTAssertEqual(text, ["254 10.200.0.0/16 10.128.0.254 4 0", "1000 10.201.0.0/16 10.128.0.254 4 0", "254 fd10::/48 - 4 50"])
    }
}
