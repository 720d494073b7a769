import CNetlink
import GatePeerCore

/// The one netlink encoder: messages appended to a growable byte buffer, in the layout
/// of the kernel's uapi <linux/netlink.h> (host byte order for the headers, 4-byte
/// alignment, NLA_F_NESTED on nests). rtnetlink requests (RequestBatch) and nf_tables
/// transactions (NftBatch) are both written with it, and so are dump requests.
///
/// Lengths are patched when a message or nest ends, so nothing is sized in advance. An
/// attribute longer than 65,531 bytes or a message over 4 GiB cannot be described by
/// netlink's length fields: that is a programming error and traps.
struct NetlinkWriter {
    /// The encoded messages, back to back; each starts 4-byte aligned.
    private(set) var bytes: [UInt8] = []
    /// Where the open message begins (nil between messages).
    private var open: Int?
    /// Where the last message begun starts (for `addFlags(toLast:)`).
    private(set) var lastMessageStart: Int?

    /// `capacity`: bytes to reserve up front (a guess; the buffer grows as needed).
    init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    /// Size of the open message so far (0 when none is open).
    var openSize: Int { open.map { bytes.count - $0 } ?? 0 }

    // MARK: messages

    /// Starts a message: a `struct nlmsghdr` whose length `endMessage` fills in.
    /// NLM_F_REQUEST is always set; `flags` adds to it. The port id stays 0 (the kernel).
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32) {
        precondition(open == nil, "netlink message begun inside another")
        let start = bytes.count
        put32(0)
        put16(type)
        put16(NetlinkFlags.request | flags)
        put32(sequence)
        put32(0)
        open = start
        lastMessageStart = start
    }

    /// Closes the open message: its nlmsg_len becomes everything appended since it began.
    mutating func endMessage() {
        guard let start = open else { return }
        patch32(at: start, UInt32(bytes.count - start))
        open = nil
    }

    /// One whole message: begin, `body`, end.
    mutating func message(type: UInt16, flags: UInt16 = 0, sequence: UInt32, _ body: (inout NetlinkWriter) -> Void) {
        beginMessage(type: type, flags: flags, sequence: sequence)
        body(&self)
        endMessage()
    }

    /// Moves the messages from byte `offset` on (a message start) into a new writer and
    /// keeps the rest; `lastRemaining` is where the last message that stays begins. No
    /// message may be open.
    mutating func splitOff(from offset: Int, lastRemaining: Int?) -> NetlinkWriter {
        precondition(open == nil, "netlink writer split with an open message")
        var tail = NetlinkWriter(capacity: max(bytes.count - offset, 4096))
        tail.bytes.append(contentsOf: bytes[offset...])
        if let last = lastMessageStart, last >= offset { tail.lastMessageStart = last - offset }
        bytes.removeSubrange(offset...)
        lastMessageStart = lastRemaining
        return tail
    }

    /// ORs `flags` into the nlmsg_flags of the last message begun (NLM_F_ACK on the last
    /// request of a batch).
    mutating func addFlags(toLast flags: UInt16) {
        guard let at = lastMessageStart else { return }
        let old = UInt16(bytes[at + 6]) | UInt16(bytes[at + 7]) << 8
        let new = old | flags
        bytes[at + 6] = UInt8(new & 0xff)
        bytes[at + 7] = UInt8(new >> 8)
    }

    /// The family's fixed header (ifinfomsg, ifaddrmsg, ndmsg, rtmsg, nfgenmsg), as the
    /// C struct lays it out in memory, zero-padded to 4 bytes.
    mutating func fixedHeader<H>(_ value: H) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
        pad()
    }

    /// A fixed header given as bytes, zero-padded to 4.
    mutating func fixedHeader(raw: [UInt8]) {
        bytes.append(contentsOf: raw)
        pad()
    }

    /// The nfgenmsg of nfnetlink: family, NFNETLINK_V0, and the resource id (big-endian).
    mutating func nfgenHeader(family: UInt8, resourceID: UInt16 = 0) {
        bytes.append(family)
        bytes.append(UInt8(NFNETLINK_V0))
        bytes.append(UInt8(resourceID >> 8))
        bytes.append(UInt8(resourceID & 0xff))
    }

    // MARK: attributes

    /// A `struct nlattr` with `payload`. nla_len counts the payload unpadded; the
    /// padding to 4 bytes follows it.
    mutating func attribute(_ type: UInt16, _ payload: UnsafeRawBufferPointer) {
        putAttributeHeader(type, payloadLength: payload.count)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        payload.withUnsafeBytes { attribute(type, $0) }
    }

    mutating func attribute(_ type: UInt16, _ payload: ArraySlice<UInt8>) {
        payload.withUnsafeBytes { attribute(type, $0) }
    }

    /// An attribute whose payload `body` appends to the buffer itself (nf_tables element
    /// keys, written without an array of their own); nla_len is patched afterwards.
    mutating func attribute(_ type: UInt16, appending body: (inout [UInt8]) -> Void) {
        let at = bytes.count
        put16(0)
        put16(type)
        body(&bytes)
        let length = bytes.count - at
        precondition(length <= Int(UInt16.max), "netlink attribute of \(length - 4) bytes")
        bytes[at] = UInt8(length & 0xff)
        bytes[at + 1] = UInt8(length >> 8)
        pad()
    }

    /// A NUL-terminated string (IFLA_IFNAME, nf_tables names).
    mutating func attribute(_ type: UInt16, string: String) {
        let utf8 = string.utf8
        putAttributeHeader(type, payloadLength: utf8.count + 1)
        bytes.append(contentsOf: utf8)
        bytes.append(0)
        pad()
    }

    mutating func attribute(_ type: UInt16, u8 v: UInt8) {
        putAttributeHeader(type, payloadLength: 1)
        bytes.append(v)
        pad()
    }

    /// Host byte order (rtnetlink's indexes, MTUs, VNIs).
    mutating func attribute(_ type: UInt16, u32 v: UInt32) {
        putAttributeHeader(type, payloadLength: 4)
        put32(v)
    }

    /// Network byte order (UDP ports).
    mutating func attribute(_ type: UInt16, be16 v: UInt16) {
        putAttributeHeader(type, payloadLength: 2)
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(v & 0xff))
        pad()
    }

    /// Network byte order (nf_tables' integers).
    mutating func attribute(_ type: UInt16, be32 v: UInt32) {
        putAttributeHeader(type, payloadLength: 4)
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8(v >> 16 & 0xff))
        bytes.append(UInt8(v >> 8 & 0xff)); bytes.append(UInt8(v & 0xff))
    }

    /// Network byte order (nf_tables' timeouts in milliseconds, counters).
    mutating func attribute(_ type: UInt16, be64 v: UInt64) {
        putAttributeHeader(type, payloadLength: 8)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(v >> UInt64(shift) & 0xff)) }
    }

    /// An address in network order: 4 bytes for IPv4, 16 for IPv6.
    mutating func attribute(_ type: UInt16, address a: IPAddress) {
        if a.family == .v4 {
            attribute(type, be32: UInt32(truncatingIfNeeded: a.low))
        } else {
            putAttributeHeader(type, payloadLength: 16)
            for v in [a.high, a.low] {
                for k in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(v >> UInt64(k) & 0xff)) }
            }
        }
    }

    // MARK: nests

    /// Opens a nest of `type` with NLA_F_NESTED set; returns where it starts, for `endNest`.
    mutating func beginNest(_ type: UInt16) -> Int {
        beginNest(rawType: type | NetlinkAttributeFlags.nested)
    }

    /// Opens a nest whose type is written exactly as given (flags included), for copies
    /// of dumped attributes.
    mutating func beginNest(rawType: UInt16) -> Int {
        let at = bytes.count
        put16(0)
        put16(rawType)
        return at
    }

    /// Closes the nest begun at `at`: its nla_len covers everything appended since.
    mutating func endNest(_ at: Int) {
        let length = bytes.count - at
        precondition(length <= Int(UInt16.max), "netlink nest of \(length) bytes")
        bytes[at] = UInt8(length & 0xff)
        bytes[at + 1] = UInt8(length >> 8)
    }

    /// A nest of `type` (NLA_F_NESTED set) holding what `body` appends.
    mutating func nest(_ type: UInt16, _ body: (inout NetlinkWriter) -> Void) {
        let at = beginNest(type)
        body(&self)
        endNest(at)
    }

    // MARK: bytes
    // Headers are host byte order; every platform gatepeer is built for (x86_64,
    // aarch64) is little-endian, so they are written as such without a round trip.

    private mutating func putAttributeHeader(_ type: UInt16, payloadLength: Int) {
        precondition(payloadLength <= Int(UInt16.max) - 4, "netlink attribute of \(payloadLength) bytes")
        put16(UInt16(4 + payloadLength))
        put16(type)
    }

    private mutating func pad() {
        while bytes.count & 3 != 0 { bytes.append(0) }
    }

    private mutating func put16(_ v: UInt16) {
        bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8))
    }

    private mutating func put32(_ v: UInt32) {
        bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8 & 0xff))
        bytes.append(UInt8(v >> 16 & 0xff)); bytes.append(UInt8(v >> 24))
    }

    private mutating func patch32(at i: Int, _ v: UInt32) {
        bytes[i] = UInt8(v & 0xff); bytes[i + 1] = UInt8(v >> 8 & 0xff)
        bytes[i + 2] = UInt8(v >> 16 & 0xff); bytes[i + 3] = UInt8(v >> 24)
    }
}
