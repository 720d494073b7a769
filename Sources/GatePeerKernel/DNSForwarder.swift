import Foundation
import GatePeerCore
import Glibc

/// A small DNS forwarder on the peer's inner addresses, for devices that use the peer as
/// their DNS server. Each query is relayed as is to the first upstream server that
/// answers. A/AAAA answers are handed to `learn` before the reply goes back, so the
/// device's next packet already meets the learned address in the filter. This is how
/// wildcard rules (*.example.com) learn addresses, and it keeps what the devices
/// resolved and what the filter allows the same, even when a CDN rotates addresses.
public final class DNSForwarder: @unchecked Sendable {
    public typealias Learn = @Sendable (_ name: String, _ records: [DNSRecord]) -> Void

    private let upstream: [IPAddress]
    private let timeout: Double
    private let learn: Learn
    private var sockets: [Int32] = []
    private var clients: [IPPrefix] = []
    /// Queries in flight; beyond this new ones are dropped (clients retry).
    private let inflight = DispatchSemaphore(value: 64)

    public init(upstream: [IPAddress], timeout: Double = 2.0, learn: @escaping Learn) {
        self.upstream = upstream
        self.timeout = timeout
        self.learn = learn
    }

    /// Binds UDP `port` on each address (IP_FREEBIND: the address may come later) and
    /// serves each socket on a thread of its own.
    /// `clients`: source prefixes answered (the devices); anything else is ignored.
    public func start(listen: [IPAddress], clients: [IPPrefix], port: UInt16 = 53) throws {
        self.clients = clients
        // Bind everything first: a half-started forwarder would serve unseen.
        var bound: [Int32] = []
        for a in listen {
            let fd = socket(a.family == .v4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                let e = errno
                for b in bound { close(b) }
                throw KernelError(object: "dns forwarder socket", errno: e)
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(SOL_IP), IP_FREEBIND, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let rc = SocketAddress.with(a, port) { bind(fd, $0, $1) }
            guard rc == 0 else {
                let e = errno
                close(fd)
                for b in bound { close(b) }
                throw KernelError(object: "dns forwarder bind \(a) port \(port)", errno: e)
            }
            bound.append(fd)
        }
        sockets = bound
        for fd in bound {
            let t = Thread { self.serve(fd) }
            t.name = "dns forwarder"
            t.start()
        }
    }

    private func serve(_ fd: Int32) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            var from = sockaddr_storage()
            var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buf.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &fromLen) }
                }
            }
            if n < 0 { if errno == EINTR { continue } else { return } }
            guard n >= 17, n <= 512, let source = SocketAddress.address(of: from), clients.contains(where: { $0.contains(source) }) else { continue }
            guard inflight.wait(timeout: .now()) == .success else { continue }
            let query = Array(buf[0..<n])
            let client = from, clientLen = fromLen
            DispatchQueue.global().async { [self] in
                defer { inflight.signal() }
                guard let reply = self.answer(query) else { return }
                var c = client
                _ = reply.withUnsafeBytes { b in
                    withUnsafeMutablePointer(to: &c) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, clientLen) }
                    }
                }
            }
        }
    }

    /// The reply for one query: the upstream answer (after learning from it), SERVFAIL
    /// when no upstream answers, nil for something that is not a query.
    func answer(_ query: [UInt8]) -> [UInt8]? {
        guard let q = DNSQuery.parse(query) else { return nil }
        for server in upstream {
            guard let reply = exchange(query, with: server) else { continue }
            if let type = DNSRecordType(rawValue: q.type), type != .cname,
               let parsed = try? DNSMessage.parseResponse(reply, id: q.id, name: q.name, type: type), !parsed.records.isEmpty {
                learn(q.name, parsed.records)
            }
            return reply
        }
        return DNSQuery.servfail(query, q)
    }

    /// One UDP round trip on a connected socket (only the server's replies get in).
    private func exchange(_ query: [UInt8], with server: IPAddress) -> [UInt8]? {
        let fd = socket(server.family == .v4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard SocketAddress.with(server, 53, { connect(fd, $0, $1) }) == 0 else { return nil }
        guard query.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == query.count else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 65535)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&p, 1, ms) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n >= 12 else { if n < 0 && errno != EINTR { return nil } else { continue } }
            if buf[0] == query[0] && buf[1] == query[1] { return Array(buf[0..<n]) }
        }
        return nil
    }
}
