import XCTest
@testable import GatePeerCore
@testable import GatePeerKernel

/// The reader on malformed and truncated input: an error or nil, never a read out of
/// bounds (the debug build traps on one, so a test that reaches it fails loudly).
final class NetlinkReaderTests: XCTestCase {
    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16) }

    /// The messages `bytes` hands out, and the error that stopped the walk (if any).
    static func walk(_ bytes: [UInt8]) -> (messages: Int, error: NetlinkDecodeError?) {
        var n = 0
        let error = bytes.withUnsafeBytes { raw -> NetlinkDecodeError? in
            do { try NetlinkReader.forEachMessage(in: raw) { _ in n += 1 } } catch { return error as? NetlinkDecodeError }
            return nil
        }
        return (n, error)
    }

    func testMessageHeaderChecks() {
        XCTAssertEqual(Self.walk([]).messages, 0)
        XCTAssertNil(Self.walk([]).error)
        // Fewer bytes than a header.
        XCTAssertEqual(Self.walk([16, 0, 0, 0, 3, 0]).error, NetlinkDecodeError(offset: 0, reason: "6 bytes left, a header needs 16"))
        // nlmsg_len below the header itself (would loop forever or step backwards).
        var short = Self.le32(8) + [UInt8](repeating: 0, count: 12)
        XCTAssertEqual(Self.walk(short).error?.offset, 0)
        // nlmsg_len past the end of the buffer.
        short = Self.le32(64) + [UInt8](repeating: 0, count: 12)
        XCTAssertEqual(Self.walk(short).error?.reason, "nlmsg_len 64 with 16 bytes left")
        // A good message, then garbage: the good one is handed out, then the error.
        let good = Self.le32(20) + Self.le16(3) + [0, 0] + [UInt8](repeating: 0, count: 12)
        let r = Self.walk(good + [9, 9, 9])
        XCTAssertEqual(r.messages, 1)
        XCTAssertEqual(r.error?.offset, 20)
    }

    /// Every prefix of a real dump: complete messages only, then an error; never a crash.
    func testTruncatedDumps() throws {
        for name in ["links", "addresses", "fdb", "routes"] {
            let bytes = try Fixtures.hex("dumps/\(name).hex")
            let whole = Self.walk(bytes)
            XCTAssertNil(whole.error)
            for cut in stride(from: 1, to: bytes.count, by: 7) {
                let prefix = Array(bytes[..<cut])
                let r = Self.walk(prefix)
                XCTAssertLessThanOrEqual(r.messages, whole.messages)
                prefix.withUnsafeBytes { raw in
                    try? NetlinkReader.forEachMessage(in: raw) { m in
                        _ = RtnetlinkCodec.parseLink(m); _ = RtnetlinkCodec.parseAddress(m)
                        _ = RtnetlinkCodec.parseFDB(m); _ = RtnetlinkCodec.parseRoute(m)
                    }
                }
            }
        }
    }

    func testAttributeChecks() {
        // IFLA_MTU (4) = 1450, then an attribute claiming 200 bytes of 8.
        let bytes: [UInt8] = Self.le16(8) + Self.le16(4) + Self.le32(1450) + Self.le16(200) + Self.le16(3) + [0x41, 0x42, 0x43, 0x44]
        bytes.withUnsafeBytes { raw in
            let a = NetlinkAttributes(raw)
            XCTAssertEqual(a.u32(4), 1450)
            XCTAssertEqual(a.malformedAt, 8)
            XCTAssertNil(a.string(3))
        }
        // nla_len 2: below its own header.
        [UInt8]([2, 0, 1, 0]).withUnsafeBytes { XCTAssertEqual(NetlinkAttributes($0).malformedAt, 0) }
        // Three bytes: not even a header.
        [UInt8]([4, 0, 1]).withUnsafeBytes { XCTAssertEqual(NetlinkAttributes($0).malformedAt, 0) }
        // Payloads too short for their getter are absent, not half-read.
        let tiny: [UInt8] = Self.le16(5) + Self.le16(1) + [7, 0, 0, 0] + Self.le16(4) + Self.le16(2)
        tiny.withUnsafeBytes { raw in
            let a = NetlinkAttributes(raw)
            XCTAssertEqual(a.u8(1), 7)
            XCTAssertNil(a.u32(1))
            XCTAssertNil(a.be16(1))
            XCTAssertNil(a.be64(1))
            XCTAssertNil(a.address(1))
            XCTAssertEqual(a.raw(2)?.count, 0)
            XCTAssertNil(a.u8(2))
            XCTAssertEqual(a.nested(2)?.malformedAt, nil)
        }
        // The byte-array walker on a range outside its array walks nothing.
        var seen = 0
        forEachNetlinkAttribute([8, 0, 1, 0], in: 0..<8) { _, _, _ in seen += 1 }
        XCTAssertEqual(seen, 0)
    }

    /// An NLMSG_ERROR with the kernel's extended ACK: errno, text and attribute offset.
    func testExtendedAck() {
        let echoed = Self.le32(16) + Self.le16(16) + Self.le16(5) + Self.le32(77) + Self.le32(0)
        let text = Array("Cannot change VNI".utf8) + [0]
        var tlvs = Self.le16(4 + text.count) + Self.le16(1) + text
        while tlvs.count % 4 != 0 { tlvs.append(0) }
        tlvs += Self.le16(8) + Self.le16(2) + Self.le32(36)
        let payload = Self.le32(Int(UInt32(bitPattern: -22))) + echoed + tlvs
        let flags = Int(NetlinkFlags.capped | NetlinkFlags.ackTLVs)
        let message = Self.le32(16 + payload.count) + Self.le16(2) + Self.le16(flags) + Self.le32(77) + Self.le32(0) + payload
        message.withUnsafeBytes { raw in
            try? NetlinkReader.forEachMessage(in: raw) { m in
                XCTAssertEqual(m.errorCode, 22)
                XCTAssertEqual(m.extendedAck.message, "Cannot change VNI")
                XCTAssertEqual(m.extendedAck.attributeOffset, 36)
            }
        }
        // Cut inside the TLVs: the text is lost, nothing is read past the end.
        for cut in 16..<message.count {
            var m = Array(message[..<cut])
            m.replaceSubrange(0..<4, with: Self.le32(cut))
            m.withUnsafeBytes { raw in
                try? NetlinkReader.forEachMessage(in: raw) { msg in _ = msg.errorCode; _ = msg.extendedAck }
            }
        }
    }
}

/// A seeded random-mutation loop over the reader and every decoder that reads kernel
/// replies, starting from the captured dumps. Fixed seed and count: the same inputs
/// every run. A crash found here is kept in Fixtures/crashes and replayed by `testCrashes`.
final class NetlinkFuzzTests: XCTestCase {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static func decodeEverything(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            try? NetlinkReader.forEachMessage(in: raw) { m in
                _ = RtnetlinkCodec.parseLink(m); _ = RtnetlinkCodec.parseAddress(m)
                _ = RtnetlinkCodec.parseFDB(m); _ = RtnetlinkCodec.parseRoute(m)
                _ = m.errorCode; _ = m.extendedAck
                let o = NftObject(m, kind: "fuzz", nameType: 1)
                for (_, p) in o.attributes { _ = netlinkAttributes(p, in: 0..<p.count) }
                _ = NftExpressions.forRequest(o.attributes.first?.1 ?? [])
            }
        }
    }

    func testSeededMutations() throws {
        let seeds = try ["links", "addresses", "fdb", "routes"].map { try Fixtures.hex("dumps/\($0).hex") }
        var rng = SplitMix(state: 0x6761_7465_7065_6572)  // "gatepeer"
        for _ in 0..<3000 {
            var b = seeds[rng.below(seeds.count)]
            for _ in 0...rng.below(4) {
                switch rng.below(5) {
                case 0: b[rng.below(b.count)] ^= UInt8(1 << rng.below(8))
                case 1: b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
                case 2:  // a length field (message or attribute) set to something odd
                    let at = rng.below(b.count - 2) & ~3
                    let v = [0, 1, 3, 4, 5, 0xffff, rng.below(0x10000)][rng.below(7)]
                    b[at] = UInt8(v & 0xff); b[at + 1] = UInt8(v >> 8 & 0xff)
                case 3: b.removeLast(rng.below(min(b.count, 64)))
                default: b = Array(b[rng.below(b.count)...])
                }
                if b.count < 4 { break }
            }
            Self.decodeEverything(b)
        }
    }

    /// Inputs that once crashed a decoder, and malformed seeds (Fixtures/crashes,
    /// see its README). A missing directory or one without cases fails: a loop over
    /// nothing would pass whatever the decoders do.
    func testCrashes() throws {
        let dir = Fixtures.directory + "/crashes"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".hex") }.sorted()
        XCTAssertFalse(names.isEmpty, "no .hex cases in \(dir)")
        for name in names {
            Self.decodeEverything(try Fixtures.hex("crashes/\(name)"))
        }
    }
}
