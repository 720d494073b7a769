import Dispatch
import GatePeerCore
import Glibc

/// A small DNS forwarder on the peer's inner addresses, for devices that use the peer as
/// their DNS server, over UDP and TCP (RFC 7766). Each query goes to the first upstream
/// server that answers (over TCP when its UDP answer is truncated, or the device asked
/// over TCP). A/AAAA answers are handed to `learn` before the reply goes back, so the
/// device's next packet already meets the learned address in the filter. This is how
/// wildcard rules (*.example.com) learn addresses, and it keeps what the devices
/// resolved and what the filter allows the same, even when a CDN rotates addresses:
/// for a name a domain rule covers, `learn` says which addresses the filter holds and the
/// reply is cut to those (DNSMessage.relay).
public final class DNSForwarder: @unchecked Sendable {
    /// Learns an answer's A/AAAA addresses for `name` (none: nothing to learn); returns
    /// what a device may be told about the name, or nil when no domain rule covers it (the
    /// reply goes out unchanged).
    public typealias Learn = @Sendable (_ name: String, _ records: [DNSRecord]) -> DNSTrim?

    /// Seconds one upstream exchange may take before the next server is asked.
    private let timeout: Double
    private let learn: Learn
    /// The resolvers asked, in order, and the source prefixes answered; `lock` guards
    /// both, as `configure` replaces them while queries run.
    private var upstream: [IPAddress] = []
    private var clients: [IPPrefix] = []
    /// The bound sockets by address and transport; changed only by `configure` and `stop`.
    private var listeners: [ListenKey: Listener] = [:]
    /// Queries in flight; beyond this new ones are dropped (clients retry).
    private let inflight = DispatchSemaphore(value: DNSForwarder.maxInflight)
    /// UDP queries in flight by source address, under `lock`.
    private var inflightBySource: [IPAddress: Int] = [:]
    /// The TCP connections served, by id, and their descriptors; `lock` guards both.
    private var pool = DNSConnectionPool(capacity: DNSForwarder.maxConnections, perSource: DNSForwarder.maxConnectionsPerSource,
                                         idle: DNSForwarder.idleSeconds, lifetime: DNSForwarder.lifetimeSeconds)
    private var descriptors: [Int: Int32] = [:]
    private let lock = Lock()
    /// Where UDP sockets are read and upstream UDP exchanges wait (dispatch sources).
    private let io = DispatchQueue(label: "gatepeer.dns.io")
    /// Where UDP answers are learned from and sent back, in order: `learn` may wait on the
    /// daemon's state queue, which must not stop `io` from reading.
    private let deliver = DispatchQueue(label: "gatepeer.dns.deliver")

    /// UDP queries asked upstream at once; more are dropped (clients retry).
    public static let maxInflight = 64
    /// UDP queries in flight from one source address: a device asking for names whose
    /// upstream is slow cannot take every slot from the others.
    public static let maxInflightPerSource = 16
    /// TCP connections served at once; a new one beyond closes the one idle the longest.
    public static let maxConnections = 32
    /// TCP connections served at once from one source address (RFC 7766 6.2.2).
    public static let maxConnectionsPerSource = 8
    /// Seconds a TCP connection may sit without a query before it is closed (RFC 7766 6.2.3).
    public static let idleSeconds = 10.0
    /// Seconds a TCP connection is served at most, however busy (RFC 7766 6.2.3).
    public static let lifetimeSeconds = 120.0
    /// Seconds to read one whole query once it started, or to write one answer.
    public static let messageSeconds = 5.0
    /// Longest query taken over TCP (bytes); a longer one closes the connection.
    public static let maxQueryBytes = 4096

    /// A forwarder that serves nothing until `configure`. `timeout`: seconds per upstream
    /// exchange.
    public init(timeout: Double = 2.0, learn: @escaping Learn) {
        self.timeout = timeout
        self.learn = learn
    }

    /// One socket the forwarder serves. Closed when the last thread using it lets go (the
    /// loop that reads it and every UDP query that still has to answer through it), so a
    /// descriptor is never closed under a thread that may still use its number.
    private final class Listener: @unchecked Sendable {
        let fd: Int32
        let tcp: Bool
        private let state = Lock()
        private var stopped = false
        /// The read source of a UDP socket; its cancel handler holds the listener, so the
        /// descriptor stays open until dispatch no longer watches it.
        private var source: DispatchSourceRead?
        init(fd: Int32, tcp: Bool) { self.fd = fd; self.tcp = tcp }
        deinit { close(fd) }
        /// Whether `shut` was called: the loop serving this socket ends.
        var isStopped: Bool { state.withLock { stopped } }
        /// Keeps `s`, the UDP socket's read source, for `shut` to cancel.
        func watch(_ s: DispatchSourceRead) { state.withLock { source = s } }
        /// Wakes the thread blocked in accept (Linux ends it on a shut-down socket) and
        /// tells it to end; a UDP socket's read source is cancelled.
        func shut() {
            let s = state.withLock { () -> DispatchSourceRead? in
                stopped = true
                defer { source = nil }
                return source
            }
            _ = shutdown(fd, Int32(SHUT_RDWR))
            s?.cancel()
        }
    }

    private struct ListenKey: Hashable {
        let address: IPAddress
        let port: UInt16
        let tcp: Bool
    }

    /// Starts serving, or moves the running forwarder to new settings without a restart:
    /// queries go to `upstream` (tried in order), are answered for sources in `clients`
    /// (the devices; anything else is ignored), on UDP and TCP `port` of each address of
    /// `listen` (IP_FREEBIND: the address may come later). Sockets of addresses that stay
    /// are kept (and their TCP connections); those of addresses no longer listed are shut
    /// down. Each TCP socket is served on a thread of its own, each TCP connection on one
    /// more; UDP sockets and their upstream exchanges wait on dispatch sources (`io`).
    /// Throws SystemError naming the call and the address when a new socket cannot be
    /// made, bound or listened on; then nothing changed (the old settings keep serving).
    /// `configure` and `stop` are called from one thread or serial queue at a time (the
    /// daemon's state queue); queries are served meanwhile.
    public func configure(upstream: [IPAddress], listen: [IPAddress], clients: [IPPrefix], port: UInt16 = 53) throws {
        let wanted = Set(listen.flatMap { a in [false, true].map { ListenKey(address: a, port: port, tcp: $0) } })
        // Bind every new socket first: a half-moved forwarder would serve unseen.
        var added: [ListenKey: Listener] = [:]
        for key in wanted.sorted(by: { ($0.address.description, $0.tcp ? 1 : 0) < ($1.address.description, $1.tcp ? 1 : 0) })
            where listeners[key] == nil {
            added[key] = try DNSForwarder.bind(key)  // on a throw, `added` closes what it bound
        }
        let gone = listeners.filter { !wanted.contains($0.key) }
        var failed: [SystemError] = []
        lock.withLock {
            self.upstream = upstream
            self.clients = clients
        }
        for (key, l) in gone {
            l.shut()
            listeners[key] = nil
        }
        for (key, l) in added {
            do {
                if l.tcp { try Threads.detach(name: "dns forwarder") { self.accept(l) } } else { serve(l) }
                listeners[key] = l
            } catch {
                // No thread to serve it (the thread limit): the socket closes with `l`;
                // the next configure binds it again.
                failed.append(error)
            }
        }
        if let first = failed.first { throw first }
    }

    /// Stops serving: every socket and TCP connection is shut down (their threads end and
    /// close them). `configure` starts it again.
    public func stop() {
        for l in listeners.values { l.shut() }
        listeners = [:]
        lock.withLock {
            for fd in descriptors.values { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// A socket bound to `key` (TCP: listening), close-on-exec, with IP_FREEBIND and
    /// SO_REUSEADDR (a socket of a stopped forwarder may still linger on the port).
    /// Throws SystemError naming the call and the address.
    private static func bind(_ key: ListenKey) throws(SystemError) -> Listener {
        let what = "dns forwarder \(key.tcp ? "TCP" : "UDP") \(key.address) port \(key.port)"
        let kind = (key.tcp ? SOCK_STREAM : SOCK_DGRAM).rawValue
        let fd = socket(key.address.family == .v4 ? AF_INET : AF_INET6, Int32(kind) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", what, .current) }
        let l = Listener(fd: fd, tcp: key.tcp)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(SOL_IP), IP_FREEBIND, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard SocketAddress.with(key.address, key.port, { Glibc.bind(fd, $0, $1) }) == 0 else { throw SystemError("bind", what, .current) }
        guard !key.tcp || Glibc.listen(fd, 64) == 0 else { throw SystemError("listen", what, .current) }
        return l
    }

    /// The source address of `from` when it is one of `clients`, else nil.
    private func client(_ from: sockaddr_storage) -> IPAddress? {
        guard let source = SocketAddress.address(of: from), lock.withLock({ clients.contains(where: { $0.contains(source) }) }) else { return nil }
        return source
    }

    /// Serves a UDP socket from a read source on `io`: no thread per socket or per query.
    private func serve(_ l: Listener) {
        _ = fcntl(l.fd, F_SETFL, fcntl(l.fd, F_GETFL) | O_NONBLOCK)
        let s = DispatchSource.makeReadSource(fileDescriptor: l.fd, queue: io)
        s.setEventHandler { [self] in self.readQueries(l) }
        s.setCancelHandler { withExtendedLifetime(l) {} }
        l.watch(s)
        s.resume()
    }

    /// Every datagram waiting on `l` (until EAGAIN): each admitted query is asked upstream
    /// without blocking (`UDPExchange`); what is over the limits is dropped (clients retry).
    private func readQueries(_ l: Listener) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while !l.isStopped {
            var from = sockaddr_storage()
            var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buf.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in retryingInterrupts { recvfrom(l.fd, b.baseAddress, b.count, 0, a, &fromLen) } }
                }
            }
            if n < 0 { return }  // EAGAIN: all read; anything else: the socket is shut
            guard n >= 17, n <= 512, let source = client(from), let q = DNSQuery.parse(Array(buf[0..<n])) else { continue }
            let admitted = lock.withLock {
                guard inflightBySource[source, default: 0] < DNSForwarder.maxInflightPerSource,
                      inflight.wait(timeout: .now()) == .success else { return false }
                inflightBySource[source, default: 0] += 1
                return true
            }
            guard admitted else { continue }
            let query = Array(buf[0..<n])
            let client = from, clientLen = fromLen
            // The answer goes out through `l` (held until then) and the slots are given back.
            let finish: @Sendable ([UInt8]?) -> Void = { [self] upstreamReply in
                if let reply = self.reply(query, q, upstream: upstreamReply, tcp: false) {
                    var c = client
                    _ = reply.withUnsafeBytes { b in
                        withUnsafeMutablePointer(to: &c) { p in
                            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in retryingInterrupts { sendto(l.fd, b.baseAddress, b.count, 0, a, clientLen) } }
                        }
                    }
                }
                lock.withLock {
                    let left = inflightBySource[source, default: 1] - 1
                    inflightBySource[source] = left > 0 ? left : nil
                }
                inflight.signal()
            }
            UDPExchange(query, servers: lock.withLock { upstream }, timeout: timeout, queue: io) { [self] udp in
                // Learning waits on the daemon's state queue: never on `io`, which must
                // keep reading. A truncated answer is asked again over TCP (rare; blocking,
                // so on a thread of its own; without one the truncated answer is taken).
                guard let udp, udp.reply[2] & 0x02 != 0 else { return deliver.async { finish(udp?.reply) } }
                let retried: ()? = try? Threads.detach(name: "dns forwarder tcp") { [self] in
                    let ours = DNSForwarder.matches(query)
                    let tcp = DNSTransport.exchange(query, with: udp.server, tcp: true, until: Clock.monotonic() + timeout, accept: ours)
                    deliver.async { finish(tcp ?? udp.reply) }
                }
                if retried == nil { deliver.async { finish(udp.reply) } }
            }.start()
        }
    }

    /// Admits connection `c` into the pool (nil: every connection it could displace is
    /// busy). The connections it displaces are shut down here, under the lock, so their
    /// descriptors cannot have been closed and reused: their threads see end of file and
    /// close them.
    private func admit(_ c: Int32, from source: IPAddress) -> Int? {
        lock.withLock {
            guard let (id, displaced) = pool.admit(source, now: Clock.monotonic()) else { return nil }
            for d in displaced {
                if let fd = descriptors.removeValue(forKey: d) { _ = shutdown(fd, Int32(SHUT_RDWR)) }
            }
            descriptors[id] = c
            return id
        }
    }

    /// Accepts TCP connections from devices; each is served on a thread of its own, at
    /// most `maxConnections` at once and `maxConnectionsPerSource` per device address, so
    /// a slow client holds only its own connections and a greedy one only its share.
    private func accept(_ l: Listener) {
        let fd = l.fd
        while !l.isStopped {
            var from = sockaddr_storage()
            var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in retryingInterrupts { Glibc.accept(fd, a, &fromLen) } }
            }
            if c < 0 {
                switch Errno.current.rawValue {
                case ECONNABORTED, EPROTO: continue  // that connection is gone, not the socket
                case EMFILE, ENFILE, ENOBUFS, ENOMEM: usleep(100_000); continue  // out of descriptors: let some close
                default: return  // EINVAL: shut down by `stop` or `configure`
                }
            }
            // Glibc does not export accept4: close-on-exec and non-blocking set after.
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            guard let source = client(from), let id = admit(c, from: source) else { close(c); continue }
            let end: @Sendable () -> Void = { [self] in
                lock.withLock { if descriptors[id] == c { descriptors[id] = nil; pool.remove(id) } }
                close(c)
            }
            do {
                try Threads.detach(name: "dns forwarder tcp") { [self] in
                    defer { end() }
                    converse(c, id)
                }
            } catch {
                end()  // no thread (the thread limit): the connection is closed, the client retries
            }
        }
    }

    /// Length-prefixed queries on one connection (RFC 1035 4.2.2), answered in order,
    /// until the client closes, stays idle `idleSeconds`, is slower than `messageSeconds`
    /// with a query or an answer, sends something that is no query, reaches
    /// `lifetimeSeconds`, or the connection is closed for a newcomer (`admit`).
    private func converse(_ c: Int32, _ id: Int) {
        while let until = lock.withLock({ pool.waitUntil(id) }), DNSTransport.wait(c, for: Int16(POLLIN), until: until) {
            guard lock.withLock({ pool.mark(id, busy: true, now: Clock.monotonic()) }) else { return }
            defer { lock.withLock { pool.mark(id, busy: false, now: Clock.monotonic()) } }
            let deadline = Clock.monotonic() + DNSForwarder.messageSeconds
            guard let prefix = DNSTransport.receiveExactly(c, 2, until: deadline) else { return }
            let length = Int(prefix[0]) << 8 | Int(prefix[1])
            guard (17...DNSForwarder.maxQueryBytes).contains(length),
                  let query = DNSTransport.receiveExactly(c, length, until: deadline),
                  let reply = answer(query, tcp: true),
                  DNSTransport.sendAll(c, DNSTransport.framed(reply), until: Clock.monotonic() + DNSForwarder.messageSeconds)
            else { return }
        }
    }

    /// The reply for one query: the upstream answer (after learning from it, cut to what
    /// the filter keeps), SERVFAIL when no upstream answers, nil for something that is not
    /// a query. `tcp`: the device asked over TCP (no size limit below 65535 bytes).
    func answer(_ query: [UInt8], tcp: Bool) -> [UInt8]? {
        guard let q = DNSQuery.parse(query) else { return nil }
        for server in lock.withLock({ upstream }) {
            guard let reply = exchange(query, with: server, tcp: tcp) else { continue }
            return self.reply(query, q, upstream: reply, tcp: tcp)
        }
        return self.reply(query, q, upstream: nil, tcp: tcp)
    }

    /// What the device is told for query `q` given the `upstream` answer (nil: no server
    /// answered, SERVFAIL): learned from, then cut to what the filter keeps. Waits for
    /// `learn`, which runs on the daemon's state queue.
    private func reply(_ query: [UInt8], _ q: DNSQuery, upstream reply: [UInt8]?, tcp: Bool) -> [UInt8]? {
        guard let reply else { return DNSQuery.servfail(query, q) }
        var records: [DNSRecord] = []
        if let type = DNSRecordType(rawValue: q.type), type != .cname,
           let parsed = try? DNSMessage.parseResponse(reply, id: q.id, name: q.name, type: type) {
            records = parsed.records
        }
        // Also for other types: addresses in ANY answers and HTTPS/SVCB hints are cut.
        let trim = learn(q.name, records)
        return DNSMessage.relay(reply, query: q, trim: trim, limit: tcp ? 65535 : q.udpLimit) ?? DNSQuery.servfail(query, q)
    }

    /// Whether `reply` answers `query`: its ID and the QR bit (RFC 1035 4.1.1).
    static func matches(_ query: [UInt8]) -> @Sendable ([UInt8]) -> Bool {
        { reply in reply.count >= 12 && reply[0] == query[0] && reply[1] == query[1] && reply[2] & 0x80 != 0 }
    }

    /// The upstream's reply to the device's query: over TCP for a TCP query, else over UDP
    /// and again over TCP when that answer is truncated (the whole answer is learned and
    /// cut; the truncated one is kept when TCP fails). A TCP query whose TCP exchange fails
    /// (TCP/53 blocked or refused, timeout) is asked over UDP, and that answer is taken
    /// when it is whole (no TC): a device that asked over TCP is never given a cut answer.
    private func exchange(_ query: [UInt8], with server: IPAddress, tcp: Bool) -> [UInt8]? {
        let ours = DNSForwarder.matches(query)
        let deadline = Clock.monotonic() + timeout
        if tcp {
            if let reply = DNSTransport.exchange(query, with: server, tcp: true, until: deadline, accept: ours) { return reply }
            guard let udp = DNSTransport.exchange(query, with: server, tcp: false, until: Clock.monotonic() + timeout, accept: ours),
                  udp[2] & 0x02 == 0 else { return nil }
            return udp
        }
        guard let udp = DNSTransport.exchange(query, with: server, tcp: false, until: deadline, accept: ours) else { return nil }
        guard udp[2] & 0x02 != 0 else { return udp }
        return DNSTransport.exchange(query, with: server, tcp: true, until: Clock.monotonic() + timeout, accept: ours) ?? udp
    }
}
