import XCTest
@testable import GatePeerCore
@testable import GatePeerKernel

/// The liveness probe's wire format without a socket: the echo request's checksum, and
/// which received packets count as answers to this socket's probes.
final class EchoReplyTests: XCTestCase {
    func testChecksumOfAnEchoRequestVerifiesToZero() {
        // RFC 1071: summing a message with its checksum in place gives 0xffff (~ = 0).
        var p: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07] + Array("gatepeer".utf8)
        let c = EchoSocket.checksum(p)
        p[2] = UInt8(c >> 8); p[3] = UInt8(c & 0xff)
        XCTAssertEqual(EchoSocket.checksum(p), 0)
        // An odd length pads with a zero byte.
        XCTAssertEqual(EchoSocket.checksum([0xff]), ~UInt16(0xff00))
    }

    func testOnlyEchoRepliesToOurIdentifierAreAnswers() {
        let ipHeader: [UInt8] = [0x45] + [UInt8](repeating: 0, count: 19)
        let reply: [UInt8] = [0, 0, 0, 0, 0x12, 0x34, 0x01, 0x02]
        XCTAssertEqual(EchoSocket.reply(ipHeader + reply, family: .v4, identifier: 0x1234), 0x0102)
        XCTAssertNil(EchoSocket.reply(ipHeader + reply, family: .v4, identifier: 0x1235), "another socket's probe")
        var request = reply; request[0] = 8
        XCTAssertNil(EchoSocket.reply(ipHeader + request, family: .v4, identifier: 0x1234), "a request is no answer")
        XCTAssertNil(EchoSocket.reply(ipHeader + Array(reply.prefix(7)), family: .v4, identifier: 0x1234), "truncated")
        // IPv6 raw sockets deliver the ICMPv6 message alone; echo reply is type 129.
        var v6 = reply; v6[0] = 129
        XCTAssertEqual(EchoSocket.reply(v6, family: .v6, identifier: 0x1234), 0x0102)
        XCTAssertNil(EchoSocket.reply(reply, family: .v6, identifier: 0x1234))
    }
}
