import GatePeerCore
import Glibc

/// The plan change a request belongs to: its index in `Plan.changes`. Failures carry it
/// back, so `Kernel.apply` maps each refusal to its change without reading descriptions.
public struct ChangeTag: Hashable, Sendable, Comparable {
    /// Index into `Plan.changes`.
    public let index: Int
    /// The tag of `Plan.changes[index]`.
    public init(_ index: Int) { self.index = index }
    /// Plan order.
    public static func < (a: ChangeTag, b: ChangeTag) -> Bool { a.index < b.index }
}

extension Plan {
    /// The changes in order, each with its tag (its index): `Kernel.apply` tags every
    /// request and step with it, and `ApplyReport` reads outcomes back by it.
    var taggedChanges: [(tag: ChangeTag, change: Change)] {
        changes.enumerated().map { (ChangeTag($0.offset), $0.element) }
    }
}

/// rtnetlink requests packed back to back, split into chunks of at most `limit` bytes
/// (one sendto each), the last request of each chunk with NLM_F_ACK. Each request is remembered by sequence number with its tag and
/// a description that is built only if the kernel refuses it.
final class RequestBatch {
    struct Request {
        let tag: ChangeTag
        let describe: () -> String
    }

    struct Chunk {
        var writer = NetlinkWriter(capacity: 1 << 12)
        var requests: [UInt32: Request] = [:]
        var lastSequence: UInt32 = 0

        /// Takes one reply of the kernel to this chunk: an NLMSG_ERROR with a nonzero
        /// errno becomes a failure tagged with its request's change; returns true once
        /// the ACK (or error) of the last request arrived, which closes the chunk. Other
        /// messages are ignored. A reply to a sequence number this chunk did not send
        /// throws (EPROTO): it cannot be counted against any change.
        /// Pure, so the reply-to-change mapping is tested without root.
        func acknowledge(_ m: NetlinkMessage, into failures: inout [NetlinkFailure]) throws -> Bool {
            guard let err = m.errorCode else { return false }
            if err != 0 {
                guard let r = requests[m.sequence] else {
                    throw KernelError(object: "netlink acknowledgements", errno: EPROTO,
                                      kernelMessage: "error \(err) for sequence \(m.sequence), which this batch did not send")
                }
                let ack = m.extendedAck
                failures.append(NetlinkFailure(tag: r.tag, error: KernelError(object: r.describe(), errno: err,
                                                                              kernelMessage: ack.message, attributeOffset: ack.attributeOffset)))
            }
            return m.sequence == lastSequence
        }
    }

    private(set) var chunks: [Chunk] = []
    private var current = Chunk()
    private let sequence: NetlinkSequence
    private let limit: Int

    /// Requests queued so far.
    var count: Int { chunks.reduce(current.requests.count) { $0 + $1.requests.count } }

    /// `limit` bytes per sendto; well under the socket's send buffer (1 MiB, see
    /// NetlinkSocket). `sequence`: the socket's, so replies match requests.
    init(sequence: NetlinkSequence, limit: Int = 96 * 1024) {
        self.sequence = sequence
        self.limit = limit
    }

    convenience init(socket: NetlinkSocket) {
        self.init(sequence: socket.sequence)
    }

    /// Appends one request of `type` with `flags` (NLM_F_REQUEST is added); `build`
    /// writes its family header and attributes. A request that would take the chunk
    /// past `limit` starts the next chunk.
    func add(_ description: @escaping @autoclosure () -> String, tag: ChangeTag, type: UInt16, flags: UInt16 = 0,
             build: (inout NetlinkWriter) -> Void) {
        let seq = sequence.next()
        // Written in place; when it takes the chunk past the limit it moves to the next.
        let start = current.writer.count
        let previousLast = current.writer.lastMessageStart
        current.writer.message(type: type, flags: flags, sequence: seq, build)
        if !current.requests.isEmpty && current.writer.count > limit {
            let moved = current.writer.splitOff(from: start, lastRemaining: previousLast)
            seal()
            current = Chunk(writer: moved)
        }
        current.requests[seq] = Request(tag: tag, describe: description)
        current.lastSequence = seq
    }

    /// Closes the open chunk so `NetlinkSocket.send` sees everything.
    func finish() {
        if !current.requests.isEmpty { seal() }
        current = Chunk()
    }

    /// Moves the open chunk to `chunks`, its last request asking for an ACK (the ACK
    /// tells the sender the kernel is done with the chunk; failures are reported anyway).
    /// Set here, once, so sending reads the chunk's bytes as they are, without a copy.
    private func seal() {
        current.writer.addFlags(toLast: NetlinkFlags.ack)
        chunks.append(current)
    }
}
