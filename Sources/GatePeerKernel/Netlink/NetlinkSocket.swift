import CNetlink
import GatePeerCore
import Glibc

/// A request the kernel refused: the error (errno, extended-ACK text and attribute
/// offset) and the request's tag (the plan change it was sent for).
struct NetlinkFailure {
    let tag: ChangeTag
    let error: KernelError
}

/// Sequence numbers of one socket: every request and dump takes the next, so replies
/// are matched to requests by number alone. Starts at the clock (like iproute2) so that
/// a late reply to an earlier process's request on a reused port id matches nothing.
final class NetlinkSequence {
    private var last: UInt32

    init(start: UInt32 = UInt32(truncatingIfNeeded: time(nil))) { last = start }

    func next() -> UInt32 {
        last &+= 1
        return last
    }
}

/// A netlink socket (rtnetlink, or nfnetlink for nf_tables) speaking through
/// NetlinkWriter and NetlinkReader. Requests go out in batches (many messages per
/// sendto); only the last message of a batch asks for an ACK, because the kernel
/// handles a send synchronously and reports every failure anyway. Replies are matched
/// to requests by sequence number.
///
/// Sending: netlink sockets are datagram sockets, so sendto(2) takes a whole chunk or
/// fails; a chunk that was sent is never sent again (a partial count would be a kernel
/// bug and is reported as EIO rather than resent). EINTR is retried by the System
/// layer's `retryingInterrupts`, and ENOBUFS (replies lost because the receive buffer
/// overflowed) is reported, each in one place (`sendChunk`, `receive`).
final class NetlinkSocket {
    let fd: Int32
    private let portID: UInt32
    let sequence: NetlinkSequence
    private var receiveBuffer: [UInt8]
    private static let receiveSize = 65536

    /// `bus`: NETLINK_ROUTE for links, addresses, neighbours and routes;
    /// NETLINK_NETFILTER for nf_tables. Throws socket(2)'s or bind(2)'s errno.
    init(bus: Int32 = NETLINK_ROUTE) throws {
        let s = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), bus)
        guard s >= 0 else { throw KernelError(object: "netlink socket", errno: Glibc.errno) }
        var local = sockaddr_nl()
        local.nl_family = sa_family_t(AF_NETLINK)
        var length = socklen_t(MemoryLayout<sockaddr_nl>.size)
        // Port id 0: the kernel picks a free one; getsockname tells which.
        let bound = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(s, p, length) == 0 && getsockname(s, p, &length) == 0
            }
        }
        guard bound else {
            let e = Glibc.errno
            close(s)
            throw KernelError(object: "netlink bind", errno: e)
        }
        fd = s
        portID = local.nl_pid
        OwnPorts.insert(portID)
        sequence = NetlinkSequence()
        receiveBuffer = [UInt8](repeating: 0, count: NetlinkSocket.receiveSize)
        // Extended ACKs carry the kernel's explanation; capped ACKs do not echo our
        // request; strict checking makes the kernel refuse dump filters it ignores.
        for option in [NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK] {
            setOption(SOL_NETLINK, option, 1)
        }
        // Room for the replies to a full batch; FORCE works as root, plain RCVBUF otherwise.
        setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, 8 << 20)
        // A chunk is up to 96 KiB in one sendto; make sure the send buffer takes it
        // whatever net.core.wmem_default says.
        setBuffer(SO_SNDBUFFORCE, SO_SNDBUF, 1 << 20)
        // The kernel always answers; a receive that waits this long means something is wrong.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
    }

    func takeSequence() -> UInt32 { sequence.next() }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    func setBuffer(_ forced: Int32, _ plain: Int32, _ size: Int32) {
        var v = size
        if setsockopt(fd, SOL_SOCKET, forced, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setOption(SOL_SOCKET, plain, size)
        }
    }

    // MARK: the system calls

    /// Sends one chunk in one sendto. A netlink datagram is taken whole or not at all;
    /// the invariant that a sent chunk is never sent again is kept here: the only retry
    /// is of a call that sent nothing (EINTR).
    private func sendChunk(_ chunk: UnsafeRawBufferPointer, what: @autoclosure () -> String) throws {
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let n = retryingInterrupts {
            withUnsafePointer(to: &kernel) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, chunk.baseAddress, chunk.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        if n < 0 { throw KernelError(object: what(), errno: Errno.current.rawValue) }
        if n != chunk.count {
            throw KernelError(object: what(), errno: EIO, kernelMessage: "sent \(n) of \(chunk.count) bytes; not resent")
        }
    }

    /// Receives one datagram of replies into the receive buffer and walks its messages.
    /// ENOBUFS means the kernel dropped replies: what the lost ones said is unknown.
    private func receive(what: @autoclosure () -> String, _ body: (NetlinkMessage) throws -> Void) throws {
        let n = receiveBuffer.withUnsafeMutableBytes { b in
            retryingInterrupts { recv(fd, b.baseAddress, b.count, 0) }
        }
        if n < 0 {
            let e = Errno.current.rawValue
            throw KernelError(object: what(), errno: e,
                              kernelMessage: e == ENOBUFS ? "replies were lost; the outcome is unknown, run apply again" : nil)
        }
        try receiveBuffer.withUnsafeBytes { b in
            try Self.forEachReply(in: UnsafeRawBufferPointer(rebasing: b[0..<n]), portID: portID, what: what(), body)
        }
    }

    /// Walks the messages of one received datagram that answer port `portID` (the
    /// kernel's own port id is 0). A malformed datagram throws EBADMSG naming `what`.
    static func forEachReply(in datagram: UnsafeRawBufferPointer, portID: UInt32, what: @autoclosure () -> String,
                             _ body: (NetlinkMessage) throws -> Void) throws {
        do {
            try NetlinkReader.forEachMessage(in: datagram) { m in
                guard m.portID == portID else { return }
                try body(m)
            }
        } catch let e as NetlinkDecodeError {
            throw KernelError(object: what(), errno: EBADMSG, kernelMessage: e.description)
        }
    }

    // MARK: dumps

    /// Runs a dump and decodes every reply with `parse`. A dump the kernel marks as
    /// interrupted (NLM_F_DUMP_INTR: the table changed under it) is run again.
    /// `single`: a plain get (one reply, then the ACK) instead of a dump.
    /// `attributes` appends the request's filter attributes after the family header,
    /// whose first byte is `family` (true of every rtnetlink and nfnetlink header).
    func dump<T>(type: Int, family: UInt8, headerSize: Int, what: String, single: Bool = false,
                 attributes: (inout NetlinkWriter) -> Void = { _ in },
                 parse: (NetlinkMessage) -> T?) throws -> [T] {
        for _ in 0..<8 {
            var out: [T] = []
            var interrupted = false
            let seq = takeSequence()
            var request = NetlinkWriter(capacity: 256)
            request.message(type: UInt16(type), flags: single ? NetlinkFlags.ack : NetlinkFlags.dump, sequence: seq) { w in
                var header = [UInt8](repeating: 0, count: headerSize)
                header[0] = family
                w.fixedHeader(raw: header)
                attributes(&w)
            }
            try request.bytes.withUnsafeBytes { try sendChunk($0, what: "dump \(what)") }
            var done = false
            while !done {
                try receive(what: "dump \(what)") { m in
                    guard m.sequence == seq else { return }
                    if m.flags & NetlinkFlags.dumpInterrupted != 0 { interrupted = true }
                    switch m.type {
                    case NetlinkMessageType.done:
                        done = true
                    case NetlinkMessageType.error:
                        let err = m.errorCode ?? EBADMSG
                        if err != 0 { throw KernelError(object: "dump \(what)", errno: err, kernelMessage: m.extendedAck.message) }
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

    // MARK: batches

    /// Sends `batch` chunk by chunk and waits for the kernel to finish each. Returns the
    /// refusals, each with its request's tag and description (`RequestBatch.Chunk.acknowledge`).
    func send(_ batch: RequestBatch) throws -> [NetlinkFailure] {
        var failures: [NetlinkFailure] = []
        for chunk in batch.chunks where !chunk.requests.isEmpty {
            // The last request already asks for an ACK (RequestBatch seals each chunk).
            try chunk.writer.bytes.withUnsafeBytes { try sendChunk($0, what: "netlink send") }
            var done = false
            while !done {
                try receive(what: "netlink acknowledgements") { m in
                    if try chunk.acknowledge(m, into: &failures) { done = true }
                }
            }
        }
        return failures
    }

    /// Sends one nf_tables transaction in one sendto (the kernel only treats a batch
    /// as one transaction when it arrives in one piece) and returns what it refused.
    /// Any refusal means nothing was committed.
    func send(_ batch: NftBatch) throws -> [KernelError] {
        guard batch.messageCount > 0 else { return [] }
        setBuffer(SO_SNDBUFFORCE, SO_SNDBUF, Int32(clamping: batch.bytes.count + (1 << 16)))
        try batch.bytes.withUnsafeBytes { try sendChunk($0, what: "nftables transaction (\(batch.bytes.count) bytes)") }
        // The last message's answer closes the batch; one on BEGIN means the kernel gave
        // up on the whole of it.
        return try receiveAcknowledgements(what: "nftables transaction",
                                           last: batch.lastSequence, orFailed: batch.beginSequence) { seq, err, ack in
            KernelError(object: batch.descriptions[seq] ?? "nftables message \(seq)", errno: err,
                        kernelMessage: ack.message, attributeOffset: ack.attributeOffset)
        }
    }

    /// Reads ACKs and errors until the one for `last` (or an error for `orFailed`)
    /// arrives; returns the errors, each made by `failure(sequence, errno, ack)`.
    private func receiveAcknowledgements<F>(what: String, last: UInt32, orFailed: UInt32? = nil,
                                            failure: (UInt32, Int32, (message: String?, attributeOffset: UInt32?)) -> F) throws -> [F] {
        var failures: [F] = []
        var done = false
        while !done {
            try receive(what: "\(what) acknowledgements") { m in
                guard let err = m.errorCode else { return }
                if err != 0 { failures.append(failure(m.sequence, err, m.extendedAck)) }
                if m.sequence == last || (m.sequence == orFailed && err != 0) { done = true }
            }
        }
        return failures
    }
}
