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

/// rtnetlink requests packed back to back, split into chunks of at most `limit` bytes
/// (one sendmsg each). Each request is remembered by sequence number with its tag and
/// a description that is built only if the kernel refuses it.
final class RequestBatch {
    struct Request {
        let tag: ChangeTag?
        let describe: () -> String
    }

    struct Chunk {
        var writer = NetlinkWriter(capacity: 1 << 12)
        var requests: [UInt32: Request] = [:]
        var lastSequence: UInt32 = 0
    }

    private(set) var chunks: [Chunk] = []
    private var current = Chunk()
    private let sequence: NetlinkSequence
    private let limit: Int

    /// Requests queued so far.
    var count: Int { chunks.reduce(current.requests.count) { $0 + $1.requests.count } }

    /// `limit` bytes per sendmsg; well under the socket's send buffer (1 MiB, see
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
    func add(_ description: @escaping @autoclosure () -> String, tag: ChangeTag?, type: UInt16, flags: UInt16 = 0,
             build: (inout NetlinkWriter) -> Void) {
        let seq = sequence.next()
        // Written in place; when it takes the chunk past the limit it moves to the next.
        let start = current.writer.count
        let previousLast = current.writer.lastMessageStart
        current.writer.message(type: type, flags: flags, sequence: seq, build)
        if !current.requests.isEmpty && current.writer.count > limit {
            let moved = current.writer.splitOff(from: start, lastRemaining: previousLast)
            chunks.append(current)
            current = Chunk(writer: moved)
        }
        current.requests[seq] = Request(tag: tag, describe: description)
        current.lastSequence = seq
    }

    /// Closes the open chunk so `NetlinkSocket.send` sees everything.
    func finish() {
        if !current.requests.isEmpty { chunks.append(current) }
        current = Chunk()
    }
}
