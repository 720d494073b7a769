import CNetlink
import GatePeerCore

/// Why a buffer is not a well-formed run of netlink messages.
struct NetlinkDecodeError: Error, Equatable, CustomStringConvertible {
    /// Byte offset in the buffer where the bad message begins.
    let offset: Int
    let reason: String

    var description: String { "malformed netlink message at byte \(offset): \(reason)" }
}

/// One message of a received buffer: its `struct nlmsghdr` fields and its payload
/// (everything after the 16-byte header, up to nlmsg_len). The payload points into the
/// buffer it was read from and is valid only while that buffer is.
struct NetlinkMessage {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    let portID: UInt32
    let payload: UnsafeRawBufferPointer

    /// The family's fixed header (ifinfomsg, rtmsg, ...) at the start of the payload;
    /// nil when the payload is shorter than the struct.
    func fixedHeader<H>(_ type: H.Type) -> H? {
        guard payload.count >= MemoryLayout<H>.size else { return nil }
        return payload.loadUnaligned(as: H.self)
    }

    /// The attributes after a fixed header of `headerSize` bytes (padded to 4); none
    /// when the payload is shorter than the header.
    func attributes(after headerSize: Int) -> NetlinkAttributes {
        let start = NetlinkLayout.align(headerSize)
        guard start <= payload.count else { return NetlinkAttributes(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[start...]))
    }

    /// The errno (positive) of an NLMSG_ERROR, 0 for a plain ACK; nil when the message
    /// is not an NLMSG_ERROR or too short to hold `struct nlmsgerr`'s error field.
    var errorCode: Int32? {
        guard type == NetlinkMessageType.error, payload.count >= 4 else { return nil }
        return -payload.loadUnaligned(as: Int32.self)
    }

    /// The extended ACK of an NLMSG_ERROR (RFC 3549's error message, with the kernel's
    /// NLMSGERR_ATTR_* after the echoed request): the kernel's text and the offset of
    /// the attribute it refused, counted from the start of the echoed request.
    var extendedAck: (message: String?, attributeOffset: UInt32?) {
        guard type == NetlinkMessageType.error, flags & NetlinkFlags.ackTLVs != 0,
              payload.count >= 4 + NetlinkLayout.messageHeader else { return (nil, nil) }
        // Capped: only the request's header is echoed; otherwise the whole request.
        let echoed = flags & NetlinkFlags.capped != 0
            ? NetlinkLayout.messageHeader : Int(payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let start = 4 + NetlinkLayout.align(echoed)
        guard echoed >= NetlinkLayout.messageHeader, start < payload.count else { return (nil, nil) }
        let tlvs = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[start...]))
        return (tlvs.string(NetlinkErrorAttribute.message), tlvs.u32(NetlinkErrorAttribute.offset))
    }
}

/// The bounds-checked netlink decoder: messages of a buffer and their attributes.
/// Every length is checked against what is left; a message that claims more than the
/// buffer holds (or less than its own header) stops the walk with an error, so nothing
/// is read out of bounds whatever the bytes say.
enum NetlinkReader {
    /// Calls `body` for each message of `buffer` in order (4-byte aligned, as the
    /// kernel packs them). Throws NetlinkDecodeError at the first malformed header, after
    /// the messages before it were handed out; rethrows what `body` throws.
    static func forEachMessage(in buffer: UnsafeRawBufferPointer, _ body: (NetlinkMessage) throws -> Void) throws {
        var at = 0
        while at < buffer.count {
            let left = buffer.count - at
            guard left >= NetlinkLayout.messageHeader else {
                throw NetlinkDecodeError(offset: at, reason: "\(left) bytes left, a header needs 16")
            }
            let length = Int(buffer.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            guard length >= NetlinkLayout.messageHeader, length <= left else {
                throw NetlinkDecodeError(offset: at, reason: "nlmsg_len \(length) with \(left) bytes left")
            }
            let m = NetlinkMessage(
                type: buffer.loadUnaligned(fromByteOffset: at + 4, as: UInt16.self),
                flags: buffer.loadUnaligned(fromByteOffset: at + 6, as: UInt16.self),
                sequence: buffer.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self),
                portID: buffer.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self),
                payload: UnsafeRawBufferPointer(rebasing: buffer[(at + NetlinkLayout.messageHeader)..<(at + length)]))
            try body(m)
            at += NetlinkLayout.align(length)
        }
    }

    /// Calls `body(type without flags, type as sent, payload range)` for each attribute
    /// in `range` of `buffer`. Stops at the first attribute whose nla_len is below its
    /// header or runs past `range`, and returns that attribute's offset (nil: all of
    /// `range` was well formed). `body` returns false to stop early.
    @inline(__always) @discardableResult
    static func forEachAttribute(in buffer: UnsafeRawBufferPointer, _ range: Range<Int>,
                                 _ body: (UInt16, UInt16, Range<Int>) -> Bool) -> Int? {
        var at = range.lowerBound
        while at < range.upperBound {
            guard at + NetlinkLayout.attributeHeader <= range.upperBound else { return at }
            let length = Int(buffer[at]) | Int(buffer[at + 1]) << 8
            let raw = UInt16(buffer[at + 2]) | UInt16(buffer[at + 3]) << 8
            guard length >= NetlinkLayout.attributeHeader, at + length <= range.upperBound else { return at }
            if !body(raw & NetlinkAttributeFlags.typeMask, raw, (at + NetlinkLayout.attributeHeader)..<(at + length)) { return nil }
            at += NetlinkLayout.align(length)
        }
        return nil
    }
}

/// The attributes of one level, looked up by type (the last one wins when a type
/// repeats; `all(_:)` gives every one), with typed getters that return nil when the
/// attribute is absent or too short for its type. Payloads point into the buffer read.
struct NetlinkAttributes {
    private var table: [UInt16: UnsafeRawBufferPointer] = [:]
    private let buffer: UnsafeRawBufferPointer
    /// Offset (within this level) of the first malformed attribute; nil when all were
    /// well formed. The attributes before it are still available.
    let malformedAt: Int?

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        var table: [UInt16: UnsafeRawBufferPointer] = [:]
        malformedAt = NetlinkReader.forEachAttribute(in: buffer, 0..<buffer.count) { type, _, payload in
            table[type] = UnsafeRawBufferPointer(rebasing: buffer[payload])
            return true
        }
        self.table = table
    }

    /// Attributes after the fixed family header of `m`.
    init(message m: NetlinkMessage, headerSize: Int) {
        self = m.attributes(after: headerSize)
    }

    func has(_ t: UInt16) -> Bool { table[t] != nil }
    func raw(_ t: UInt16) -> UnsafeRawBufferPointer? { table[t] }

    /// Every attribute of type `t`, in order (IFLA_ALT_IFNAME repeats in a property list).
    func all(_ t: UInt16) -> [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        NetlinkReader.forEachAttribute(in: buffer, 0..<buffer.count) { type, _, payload in
            if type == t { out.append(UnsafeRawBufferPointer(rebasing: buffer[payload])) }
            return true
        }
        return out
    }

    func u8(_ t: UInt16) -> UInt8? {
        guard let b = table[t], b.count >= 1 else { return nil }
        return b[0]
    }

    /// Host byte order.
    func u32(_ t: UInt16) -> UInt32? {
        guard let b = table[t], b.count >= 4 else { return nil }
        return b.loadUnaligned(as: UInt32.self)
    }

    /// A network-order 16-bit value (ports).
    func be16(_ t: UInt16) -> UInt16? {
        guard let b = table[t], b.count >= 2 else { return nil }
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }

    /// A network-order 64-bit value (nf_tables counters).
    func be64(_ t: UInt16) -> UInt64? {
        guard let b = table[t], b.count >= 8 else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[$1]) }
    }

    /// A string up to its first NUL (or the payload's end when it has none).
    func string(_ t: UInt16) -> String? {
        guard let b = table[t] else { return nil }
        return String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
    }

    func bytes(_ t: UInt16) -> [UInt8]? { table[t].map { Array($0) } }

    /// A 4- or 16-byte address in network order; nil for any other length.
    func address(_ t: UInt16) -> IPAddress? {
        guard let b = table[t], b.count == 4 || b.count == 16 else { return nil }
        return IPAddress(bytes: Array(b))
    }

    func nested(_ t: UInt16) -> NetlinkAttributes? {
        table[t].map { NetlinkAttributes($0) }
    }
}

/// Attributes of a byte array: (type without flags, full type, payload range). Stops
/// at the first malformed attribute.
func netlinkAttributes(_ b: [UInt8], in range: Range<Int>) -> [(type: UInt16, rawType: UInt16, payload: Range<Int>)] {
    var out: [(type: UInt16, rawType: UInt16, payload: Range<Int>)] = []
    forEachNetlinkAttribute(b, in: range) { out.append(($0, $1, $2)) }
    return out
}

/// Walks the attributes of a byte array without collecting them (element dumps hold
/// hundreds of thousands): `body(type without flags, full type, payload range)`. Stops
/// at the first malformed attribute; a range outside `b` walks nothing.
@inline(__always)
func forEachNetlinkAttribute(_ b: [UInt8], in range: Range<Int>, _ body: (UInt16, UInt16, Range<Int>) -> Void) {
    guard range.lowerBound >= 0, range.upperBound <= b.count else { return }
    b.withUnsafeBytes { raw in
        _ = NetlinkReader.forEachAttribute(in: raw, range) { body($0, $1, $2); return true }
    }
}
