import CNetlink
import GatePeerCore
import Glibc

/// A rtnetlink socket over libmnl. Requests go out in batches (many messages per
/// sendmsg); only the last message of a batch asks for an ACK, because rtnetlink handles
/// a sendmsg synchronously and reports every failure anyway. Failures are matched back
/// to their request by sequence number.
final class NetlinkSocket {
    private let nl: OpaquePointer
    private let portID: UInt32
    private var nextSequence: UInt32
    private let receiveBuffer: UnsafeMutableRawPointer
    private static let receiveSize = 65536

    /// `bus`: NETLINK_ROUTE for links, addresses, neighbours and routes;
    /// NETLINK_NETFILTER for reading nf_tables objects without libnftables' full cache.
    init(bus: Int32 = NETLINK_ROUTE) throws {
        guard let s = mnl_socket_open2(bus, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw KernelError(object: "netlink socket", errno: Glibc.errno)
        }
        guard mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) >= 0 else {
            let e = Glibc.errno
            mnl_socket_close(s)
            throw KernelError(object: "netlink bind", errno: e)
        }
        nl = s
        portID = mnl_socket_get_portid(s)
        nextSequence = UInt32(truncatingIfNeeded: time(nil))
        receiveBuffer = UnsafeMutableRawPointer.allocate(byteCount: NetlinkSocket.receiveSize, alignment: 8)
        var one: Int32 = 1
        // Extended ACKs carry the kernel's explanation; capped ACKs do not echo our request.
        _ = mnl_socket_setsockopt(s, Int32(NETLINK_EXT_ACK), &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(s, Int32(NETLINK_CAP_ACK), &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(s, Int32(NETLINK_GET_STRICT_CHK), &one, socklen_t(MemoryLayout<Int32>.size))
        // Room for the replies to a full batch; FORCE works as root, plain RCVBUF otherwise.
        var size: Int32 = 8 << 20
        let fd = mnl_socket_get_fd(s)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        // A batch is up to 96 KiB in one sendmsg; make sure the send buffer takes it
        // whatever net.core.wmem_default says.
        var send: Int32 = 1 << 20
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send, socklen_t(MemoryLayout<Int32>.size))
        }
        // rtnetlink always answers; a receive that waits this long means something is wrong.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        mnl_socket_close(nl)
        receiveBuffer.deallocate()
    }

    func takeSequence() -> UInt32 {
        nextSequence &+= 1
        return nextSequence
    }

    // MARK: dumps

    /// Runs a dump and decodes every reply with `parse`. A dump the kernel marks as
    /// interrupted (NLM_F_DUMP_INTR: the table changed under it) is run again.
    /// `single`: a plain get (one reply, then the ACK) instead of a dump.
    func dump<T>(type: Int, family: UInt8, headerSize: Int, what: String, single: Bool = false,
                 attributes: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
                 parse: (UnsafePointer<nlmsghdr>) -> T?) throws -> [T] {
        for _ in 0..<8 {
            var out: [T] = []
            var interrupted = false
            let seq = takeSequence()
            let request = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
            defer { request.deallocate() }
            memset(request, 0, 256)
            let nlh = mnl_nlmsg_put_header(request)!
            nlh.pointee.nlmsg_type = UInt16(type)
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | (single ? NLM_F_ACK : NLM_F_DUMP))
            nlh.pointee.nlmsg_seq = seq
            let hdr = mnl_nlmsg_put_extra_header(nlh, headerSize)!
            // Every rtnetlink header starts with its family byte.
            hdr.storeBytes(of: family, as: UInt8.self)
            attributes(nlh)
            guard mnl_socket_sendto(nl, nlh, Int(nlh.pointee.nlmsg_len)) >= 0 else {
                throw KernelError(object: "dump \(what)", errno: Glibc.errno)
            }
            var done = false
            while !done {
                let n = mnl_socket_recvfrom(nl, receiveBuffer, NetlinkSocket.receiveSize)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw KernelError(object: "dump \(what)", errno: Glibc.errno)
                }
                var remaining = Int32(n)
                var msg: UnsafePointer<nlmsghdr>? = UnsafePointer(receiveBuffer.assumingMemoryBound(to: nlmsghdr.self))
                while let m = msg, mnl_nlmsg_ok(m, remaining) {
                    defer { msg = UnsafePointer(mnl_nlmsg_next(m, &remaining)) }
                    guard m.pointee.nlmsg_seq == seq, m.pointee.nlmsg_pid == portID else { continue }
                    if Int32(m.pointee.nlmsg_flags) & NLM_F_DUMP_INTR != 0 { interrupted = true }
                    switch Int32(m.pointee.nlmsg_type) {
                    case NLMSG_DONE:
                        done = true
                    case NLMSG_ERROR:
                        let (err, text) = NetlinkSocket.decodeError(m)
                        if err != 0 { throw KernelError(object: "dump \(what)", errno: err, kernelMessage: text) }
                        done = true
                    default:
                        if let v = parse(m) { out.append(v) }
                    }
                }
            }
            if !interrupted { return out }
        }
        throw KernelError(object: "dump \(what)", errno: EBUSY, kernelMessage: "interrupted 8 times in a row by concurrent changes")
    }

    /// (errno, extended-ack text) of an NLMSG_ERROR; errno 0 is a plain ACK.
    static func decodeError(_ m: UnsafePointer<nlmsghdr>) -> (Int32, String?) {
        let payload = mnl_nlmsg_get_payload(m)!
        let err = -payload.load(as: Int32.self)
        guard err != 0 else { return (0, nil) }
        let flags = Int32(m.pointee.nlmsg_flags)
        guard flags & NLM_F_ACK_TLVS != 0 else { return (err, nil) }
        let inner = payload.advanced(by: 4).assumingMemoryBound(to: nlmsghdr.self)
        // Capped: only the request's header is echoed; otherwise the whole request.
        let echoed = flags & NLM_F_CAPPED != 0 ? MemoryLayout<nlmsghdr>.size : Int(inner.pointee.nlmsg_len)
        let tlvStart = 4 + ((echoed + 3) & ~3)
        let total = Int(m.pointee.nlmsg_len) - MemoryLayout<nlmsghdr>.size
        guard tlvStart < total else { return (err, nil) }
        let attrs = NetlinkAttributes(payload.advanced(by: tlvStart), length: total - tlvStart)
        return (err, attrs.string(UInt16(NLMSGERR_ATTR_MSG.rawValue)))
    }

    // MARK: batches

    /// Sends `batch` and waits for the kernel to finish it. Returns the failures, each
    /// named by the description its request was queued with.
    func send(_ batch: RequestBatch) throws -> [KernelError] {
        var failures: [KernelError] = []
        for chunk in batch.chunks where !chunk.sequences.isEmpty {
            // Ask for an ACK on the last message only; it tells us the chunk is done.
            let last = chunk.buffer.advanced(by: chunk.lastOffset).assumingMemoryBound(to: nlmsghdr.self)
            last.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
            let lastSeq = last.pointee.nlmsg_seq
            var sent = 0
            while sent < chunk.size {
                let n = mnl_socket_sendto(nl, chunk.buffer, chunk.size)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw KernelError(object: "netlink send", errno: Glibc.errno)
                }
                sent = n
            }
            failures += try receiveAcknowledgements(what: "netlink",
                                                    describe: { chunk.sequences[$0]?() ?? "request \($0)" },
                                                    isLast: { seq, _ in seq == lastSeq })
        }
        return failures
    }
}

extension NetlinkSocket {
    /// Sends one nf_tables transaction in one sendmsg (the kernel only treats a batch
    /// as one transaction when it arrives in one piece) and returns what it refused.
    /// Any refusal means nothing was committed.
    func send(_ batch: NftBatch) throws -> [KernelError] {
        guard batch.messageCount > 0 else { return [] }
        let fd = mnl_socket_get_fd(nl)
        var size = Int32(clamping: batch.bytes.count + (1 << 16))
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        while true {
            let n = batch.bytes.withUnsafeBytes { mnl_socket_sendto(nl, $0.baseAddress, $0.count) }
            if n >= 0 { break }
            if Glibc.errno == EINTR { continue }
            throw KernelError(object: "nftables transaction (\(batch.bytes.count) bytes)", errno: Glibc.errno)
        }
        // The last message's answer closes the batch; one on BEGIN means the kernel gave
        // up on the whole of it.
        return try receiveAcknowledgements(what: "nftables transaction",
                                           describe: { batch.descriptions[$0] ?? "nftables message \($0)" },
                                           isLast: { seq, err in seq == batch.lastSequence || (seq == batch.beginSequence && err != 0) })
    }

    /// Reads ACKs and errors until `isLast(sequence, errno)` says the request is done;
    /// returns the errors, each named by `describe(sequence)`.
    private func receiveAcknowledgements(what: String, describe: (UInt32) -> String,
                                         isLast: (UInt32, Int32) -> Bool) throws -> [KernelError] {
        var failures: [KernelError] = []
        while true {
            let n = mnl_socket_recvfrom(nl, receiveBuffer, NetlinkSocket.receiveSize)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw KernelError(object: "\(what) acknowledgements", errno: Glibc.errno,
                                  kernelMessage: Glibc.errno == ENOBUFS ? "replies were lost; the outcome is unknown, run apply again" : nil)
            }
            var remaining = Int32(n)
            var msg: UnsafePointer<nlmsghdr>? = UnsafePointer(receiveBuffer.assumingMemoryBound(to: nlmsghdr.self))
            var done = false
            while let m = msg, mnl_nlmsg_ok(m, remaining) {
                defer { msg = UnsafePointer(mnl_nlmsg_next(m, &remaining)) }
                guard Int32(m.pointee.nlmsg_type) == NLMSG_ERROR else { continue }
                let seq = m.pointee.nlmsg_seq
                let (err, text) = NetlinkSocket.decodeError(m)
                if err != 0 { failures.append(KernelError(object: describe(seq), errno: err, kernelMessage: text)) }
                if isLast(seq, err) { done = true }
            }
            if done { return failures }
        }
    }
}

/// Requests packed back to back with libmnl's batch helpers, split into chunks that fit
/// one sendmsg. Each request is remembered by sequence number for error reports.
final class RequestBatch {
    struct Chunk {
        let buffer: UnsafeMutableRawPointer
        var size: Int
        var lastOffset: Int
        /// Descriptions are built only when the kernel refuses a request.
        var sequences: [UInt32: () -> String]
    }

    private(set) var chunks: [Chunk] = []
    private let socket: NetlinkSocket
    private let limit: Int
    private var buffer: UnsafeMutableRawPointer
    private var batch: OpaquePointer
    private var current: [UInt32: () -> String] = [:]
    private var currentLastOffset = 0
    var count: Int { chunks.reduce(current.count) { $0 + $1.sequences.count } }

    /// `limit` bytes per sendmsg; well under the socket's send buffer (~208 KiB).
    init(socket: NetlinkSocket, limit: Int = 96 * 1024) {
        self.socket = socket
        self.limit = limit
        // libmnl wants room for one message past the limit: it is moved to the next chunk.
        buffer = UnsafeMutableRawPointer.allocate(byteCount: limit * 2, alignment: 8)
        batch = mnl_nlmsg_batch_start(buffer, limit)!
    }

    deinit {
        mnl_nlmsg_batch_stop(batch)
        buffer.deallocate()
        for c in chunks { c.buffer.deallocate() }
    }

    /// Appends one request. `build` fills in type, flags and payload of a zeroed header.
    func add(_ description: @escaping @autoclosure () -> String, build: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
        // put_header and put_extra_header zero what they reserve; nothing else to clear.
        let start = mnl_nlmsg_batch_current(batch)!
        let nlh = mnl_nlmsg_put_header(start)!
        build(nlh)
        let seq = socket.takeSequence()
        nlh.pointee.nlmsg_seq = seq
        nlh.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST)
        let offset = start - UnsafeMutableRawPointer(mnl_nlmsg_batch_head(batch)!)
        if mnl_nlmsg_batch_next(batch) {
            current[seq] = description
            currentLastOffset = offset
        } else {
            // This message did not fit: close the chunk before it, then carry it over.
            // batch_reset moves it to the front and already counts it; calling
            // batch_next again would swallow whatever stale bytes follow it.
            sealChunk(size: mnl_nlmsg_batch_size(batch))
            mnl_nlmsg_batch_reset(batch)
            current = [seq: description]
            currentLastOffset = 0
        }
    }

    private func sealChunk(size: Int) {
        guard !current.isEmpty else { return }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        copy.copyMemory(from: mnl_nlmsg_batch_head(batch)!, byteCount: size)
        chunks.append(Chunk(buffer: copy, size: size, lastOffset: currentLastOffset, sequences: current))
    }

    /// Closes the open chunk so `NetlinkSocket.send` sees everything.
    func finish() {
        if !mnl_nlmsg_batch_is_empty(batch) {
            sealChunk(size: mnl_nlmsg_batch_size(batch))
        }
        mnl_nlmsg_batch_stop(batch)
        batch = mnl_nlmsg_batch_start(buffer, limit)!
        current = [:]
    }
}

/// Attribute walking with libmnl's validators (mnl_attr_ok/next), so a malformed reply
/// never reads past its message.
struct NetlinkAttributes {
    private var table: [UInt16: UnsafeRawBufferPointer] = [:]

    init(_ start: UnsafeRawPointer, length: Int) {
        var remaining = length
        var attr = start.assumingMemoryBound(to: nlattr.self)
        while remaining > 0 && mnl_attr_ok(attr, Int32(remaining)) {
            let type = mnl_attr_get_type(attr)
            let len = Int(mnl_attr_get_payload_len(attr))
            table[type] = UnsafeRawBufferPointer(start: mnl_attr_get_payload(attr), count: len)
            let next = UnsafePointer(mnl_attr_next(attr)!)
            remaining -= UnsafeRawPointer(next) - UnsafeRawPointer(attr)
            attr = next
        }
    }

    /// Attributes after the fixed family header of message `m`.
    init(message m: UnsafePointer<nlmsghdr>, headerSize: Int) {
        let start = mnl_nlmsg_get_payload_offset(m, headerSize)!
        let end = UnsafeRawPointer(m) + Int(m.pointee.nlmsg_len)
        self.init(UnsafeRawPointer(start), length: end - UnsafeRawPointer(start))
    }

    func has(_ t: UInt16) -> Bool { table[t] != nil }
    func raw(_ t: UInt16) -> UnsafeRawBufferPointer? { table[t] }

    func u8(_ t: UInt16) -> UInt8? {
        guard let b = table[t], b.count >= 1 else { return nil }
        return b[0]
    }

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

    func string(_ t: UInt16) -> String? {
        guard let b = table[t] else { return nil }
        let bytes = b.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    func bytes(_ t: UInt16) -> [UInt8]? { table[t].map { Array($0) } }

    func address(_ t: UInt16) -> IPAddress? {
        guard let b = table[t], b.count == 4 || b.count == 16 else { return nil }
        return IPAddress(bytes: Array(b))
    }

    func nested(_ t: UInt16) -> NetlinkAttributes? {
        guard let b = table[t], let base = b.baseAddress else { return nil }
        return NetlinkAttributes(base, length: b.count)
    }
}

extension UnsafeMutablePointer where Pointee == nlmsghdr {
    func put(_ type: Int, _ data: [UInt8]) {
        data.withUnsafeBytes { mnl_attr_put(self, UInt16(type), $0.count, $0.baseAddress) }
    }
    func putU8(_ type: Int, _ v: UInt8) { mnl_attr_put_u8(self, UInt16(type), v) }
    func putU32(_ type: Int, _ v: UInt32) { mnl_attr_put_u32(self, UInt16(type), v) }
    func putString(_ type: Int, _ s: String) { mnl_attr_put_strz(self, UInt16(type), s) }
    func nest(_ type: Int, _ body: () -> Void) {
        let start = mnl_attr_nest_start(self, UInt16(type))
        body()
        mnl_attr_nest_end(self, start)
    }
    /// Reserves and zeroes the family header (ifinfomsg, rtmsg, ...) and returns it typed.
    func header<H>(_ type: H.Type) -> UnsafeMutablePointer<H> {
        mnl_nlmsg_put_extra_header(self, MemoryLayout<H>.size)!.assumingMemoryBound(to: H.self)
    }
}
