import XCTest
@testable import GatePeerCore
@testable import GatePeerKernel
import Glibc

/// The kernel's replies to a batch mapped back to plan changes, without root: requests
/// are encoded as `Kernel.apply` encodes them (tagged by `Plan.taggedChanges`), the
/// replies are NLMSG_ERROR messages built by hand, and the outcome is the ApplyReport.
/// A tag off by one (in the tagging or in the sequence-number lookup) moves a failure
/// to the wrong change.
final class AcknowledgementTests: XCTestCase {
    static let port: UInt32 = 4242
    let spec = LinkSpec(name: "gp0", alias: "gatepeer:gp0", vxlanId: 42, port: 4789, portRange: PortRange(low: 4789, high: 4789),
                        underlayName: "eth0", underlayIndex: 3, local: IPAddress("192.0.2.10")!, mtu: 1450,
                        mac: MACAddress("02:00:00:aa:bb:cc")!, learning: false)

    /// One NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK: errno negated, then
    /// the request's header.
    static func reply(sequence: UInt32, errno: Int32, port: UInt32 = port) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let echoed = le(UInt32(16)) + le(UInt16(0)) + le(UInt16(0)) + le(sequence) + le(port)
        let payload = le(-errno) + echoed
        return le(UInt32(16 + payload.count)) + le(UInt16(NetlinkMessageType.error)) + le(UInt16(errno == 0 ? 0x100 : 0))
            + le(sequence) + le(port) + payload
    }

    /// Feeds `datagrams` to each chunk in turn as `NetlinkSocket.send` does; returns the
    /// failures and, per chunk, whether its last ACK arrived.
    static func acknowledge(_ batch: RequestBatch, _ datagrams: [[UInt8]]) throws -> ([NetlinkFailure], [Bool]) {
        var failures: [NetlinkFailure] = []
        var closed: [Bool] = []
        for chunk in batch.chunks {
            var done = false
            for d in datagrams {
                try d.withUnsafeBytes { raw in
                    try NetlinkSocket.forEachReply(in: raw, portID: port, what: "test") { m in
                        if try chunk.acknowledge(m, into: &failures) { done = true }
                    }
                }
            }
            closed.append(done)
        }
        return (failures, closed)
    }

    /// A plan of three changes, four requests (a link change is two: vxlan, then
    /// generic); the kernel refuses the second request and the third.
    func testRefusalsCountAgainstTheirChanges() throws {
        let attrs = [LinkAttribute.local, .mtu].map { Plan.AttributeChange(attribute: $0, old: "a", new: "b") }
        let plan = Plan(changes: [
            .changeLink(spec, index: 7, attrs),
            .addRoute(link: "gp0", LANRoute(destination: IPPrefix("192.168.10.0/24")!, via: IPAddress("10.129.3.7")!)),
            .setLinkUp(link: "gp0"),
        ], blockers: [])
        let batch = RequestBatch(sequence: NetlinkSequence(start: 100))
        for (tag, change) in plan.taggedChanges {
            switch change {
            case .changeLink(let s, let idx, let a): RtnetlinkCodec.changeLink(batch, s, index: idx, a, tag: tag)
            case .addRoute(let link, let r): RtnetlinkCodec.route(batch, .add, destination: r.destination, via: r.via, index: 7, label: link, tag: tag)
            case .setLinkUp(let link): RtnetlinkCodec.setLinkUp(batch, name: link, index: 7, tag: tag)
            default: XCTFail("\(change)")
            }
        }
        batch.finish()
        XCTAssertEqual(batch.chunks.map { $0.requests.keys.sorted() }, [[101, 102, 103, 104]])

        // Errors in one datagram, the last request's ACK in the next, a reply to some
        // other socket in between (ignored).
        let datagrams = [Self.reply(sequence: 102, errno: EINVAL) + Self.reply(sequence: 103, errno: ENETUNREACH),
                         Self.reply(sequence: 101, errno: EPERM, port: 99),
                         Self.reply(sequence: 104, errno: 0)]
        let (failures, closed) = try Self.acknowledge(batch, datagrams)
        XCTAssertEqual(closed, [true])
        XCTAssertEqual(failures.map(\.tag), [ChangeTag(0), ChangeTag(1)])
        XCTAssertEqual(failures.map(\.error.errno), [EINVAL, ENETUNREACH])
        XCTAssertEqual(failures.map(\.error.object), ["change link gp0 (mtu)", "add route 192.168.10.0/24 via 10.129.3.7 dev gp0"])

        let report = Kernel.ApplyReport(count: plan.changes.count, failures: failures.map { ($0.tag, $0.error) }, skipped: [])
        XCTAssertEqual(report.outcomes, [.failed, .failed, .applied])
        XCTAssertEqual(report.applied, 1)

        // Only the last request's reply closes the chunk.
        XCTAssertEqual(try Self.acknowledge(batch, [Self.reply(sequence: 103, errno: EEXIST)]).1, [false])
    }

    /// An error for a sequence number the batch never sent cannot be counted against a
    /// change: it is an error of the send, not a silent "applied".
    func testReplyToAnUnknownRequestThrows() throws {
        let batch = RequestBatch(sequence: NetlinkSequence(start: 100))
        RtnetlinkCodec.setLinkUp(batch, name: "gp0", index: 7, tag: ChangeTag(0))
        batch.finish()
        XCTAssertThrowsError(try Self.acknowledge(batch, [Self.reply(sequence: 102, errno: EINVAL)])) { e in
            XCTAssertEqual((e as? KernelError)?.errno, EPROTO)
        }
    }
}
