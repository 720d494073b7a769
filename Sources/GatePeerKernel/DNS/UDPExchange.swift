import Dispatch
import GatePeerCore
import Glibc

/// One device's query asked of the upstream servers in turn over UDP without a thread:
/// a fresh connected non-blocking socket per server (the kernel picks a random source
/// port and lets only that server's datagrams in), a read source and a timer on `queue`.
/// The first datagram that answers the query (its ID and QR bit) ends it; ICMP port
/// unreachable (ECONNREFUSED) or `timeout` seconds without an answer move on to the next
/// server; after the last, `done` gets nil. `done` runs on `queue` exactly once.
final class UDPExchange: @unchecked Sendable {
    /// The answer and the server that gave it (a truncated one is asked again over TCP).
    struct Answer: Sendable {
        let reply: [UInt8]
        let server: IPAddress
    }

    private let query: [UInt8]
    private let servers: [IPAddress]
    private let timeout: Double
    private let queue: DispatchQueue
    private let done: @Sendable (Answer?) -> Void
    private let accept: @Sendable ([UInt8]) -> Bool
    /// Only on `queue`: the server asked now (its index plus one), its sources, and
    /// whether `done` ran. A handler of an earlier server's sources that still fires
    /// after they were cancelled sees another `attempt` and does nothing.
    private var attempt = 0
    private var source: DispatchSourceRead?
    private var timer: DispatchSourceTimer?
    private var finished = false

    init(_ query: [UInt8], servers: [IPAddress], timeout: Double, queue: DispatchQueue, done: @escaping @Sendable (Answer?) -> Void) {
        self.query = query
        self.servers = servers
        self.timeout = timeout
        self.queue = queue
        self.done = done
        accept = DNSForwarder.matches(query)
    }

    /// Asks the first server. The exchange keeps itself alive through its sources until
    /// `done` ran.
    func start() { queue.async { self.askNext() } }

    private func askNext() {
        stopWaiting()
        guard attempt < servers.count else { return finish(nil) }
        let server = servers[attempt]
        attempt += 1
        let mine = attempt
        let kind = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue)
        let fd = socket(server.family == .v4 ? AF_INET : AF_INET6, kind, 0)
        guard fd >= 0 else { return askNext() }
        // A UDP connect completes at once; a full socket buffer (EAGAIN) counts as a
        // server that did not answer.
        guard DNSTransport.connect(fd, to: server),
              query.withUnsafeBytes({ b in retryingInterrupts { send(fd, b.baseAddress, b.count, 0) } }) == query.count else {
            close(fd)
            return askNext()
        }
        let s = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        s.setEventHandler { [self] in if attempt == mine { read(fd, server) } }
        s.setCancelHandler { close(fd) }
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + timeout)
        t.setEventHandler { [self] in if attempt == mine && !finished { askNext() } }
        source = s
        timer = t
        s.resume()
        t.resume()
    }

    /// Every datagram waiting (until EAGAIN); an error other than that (ECONNREFUSED)
    /// gives up on this server.
    private func read(_ fd: Int32, _ server: IPAddress) {
        var buf = [UInt8](repeating: 0, count: 65536)
        while !finished {
            let n = buf.withUnsafeMutableBytes { b in retryingInterrupts { recv(fd, b.baseAddress, b.count, 0) } }
            if n < 0 {
                if Errno.current == .wouldBlock { return }
                return askNext()
            }
            let reply = Array(buf[0..<n])
            if accept(reply) { return finish(Answer(reply: reply, server: server)) }
        }
    }

    private func stopWaiting() {
        source?.cancel()
        timer?.cancel()
        source = nil
        timer = nil
    }

    private func finish(_ answer: Answer?) {
        guard !finished else { return }
        finished = true
        stopWaiting()
        done(answer)
    }
}
