import GatePeerCore
import Glibc

/// A stub resolver: one question to the configured recursive servers over UDP, with a TCP
/// retry for truncated answers. Each query uses a fresh socket, so the kernel picks a
/// random ephemeral source port, and a random id; the socket is connected, so only the
/// server's datagrams reach it, and replies that do not match the query are skipped.
public struct DNSResolver: Sendable {
    /// Recursive servers, asked in order (port 53).
    public let servers: [IPAddress]
    /// Seconds to wait for each server's answer per attempt.
    public let timeout: Double
    /// Rounds over all servers before `resolve` gives up.
    public let attempts: Int

    /// Defaults: 2 s per server, 2 rounds.
    public init(servers: [IPAddress], timeout: Double = 2.0, attempts: Int = 2) {
        self.servers = servers
        self.timeout = max(timeout, 0.001)
        self.attempts = max(attempts, 1)
    }

    private enum Outcome {
        case answer(DNSResponse)
        case malformed(String)
        case silent  // timed out, unreachable, refused
    }

    /// Queries the servers in order, `attempts` rounds, until one answers NOERROR or
    /// NXDOMAIN. When none does, an answer with another rcode (SERVFAIL, REFUSED) or a
    /// truncated answer that TCP could not complete is returned if there was one; otherwise
    /// throws `DNSResolverError`: `.malformedAnswers` when every server sent malformed
    /// answers, `.noAnswer` when not (timeouts, refusals, no servers).
    public func resolve(_ name: String, type: DNSRecordType) throws(DNSResolverError) -> DNSResponse {
        guard DNSMessage.isValidName(name) else {
            throw DNSResolverError(name: name, reason: .invalidName, detail: "not a valid DNS name")
        }
        var fallback: DNSResponse?
        var malformed: [IPAddress: String] = [:]
        func good(_ r: DNSResponse) -> Bool { r.rcode == 0 || r.rcode == 3 }
        // A cut NOERROR/NXDOMAIN answer beats a complete SERVFAIL; otherwise the first wins.
        func keep(_ r: DNSResponse) { if fallback == nil || (!good(fallback!) && good(r)) { fallback = r } }
        for _ in 0..<attempts {
            for server in servers {
                switch exchange(server, name: name, type: type, tcp: false) {
                case .answer(let udp) where udp.truncated:
                    switch exchange(server, name: name, type: type, tcp: true) {
                    case .answer(let r) where good(r): return r
                    case .answer(let r): keep(r)
                    case .malformed(let why): malformed[server] = "TCP: " + why; keep(udp)
                    case .silent: keep(udp)
                    }
                case .answer(let r) where good(r): return r
                case .answer(let r): keep(r)
                case .malformed(let why): malformed[server] = why
                case .silent: break
                }
            }
        }
        if let fallback { return fallback }
        let list = servers.map(\.description).joined(separator: ", ")
        if !servers.isEmpty, servers.allSatisfy({ malformed[$0] != nil }) {
            let detail = servers.map { "\($0): \(malformed[$0]!)" }.joined(separator: "; ")
            throw DNSResolverError(name: name, reason: .malformedAnswers, detail: "malformed answers from \(detail)")
        }
        let bad = servers.filter { malformed[$0] != nil }.map { "\($0): \(malformed[$0]!)" }
        let note = bad.isEmpty ? "" : "; malformed answers from " + bad.joined(separator: "; ")
        throw DNSResolverError(name: name, reason: .noAnswer, detail: "no answer from \(list.isEmpty ? "(no servers)" : list)\(note)")
    }

    /// One query to one server on a fresh socket, waiting at most `timeout`.
    private func exchange(_ server: IPAddress, name: String, type: DNSRecordType, tcp: Bool) -> Outcome {
        let id = UInt16.random(in: 0...UInt16.max)
        let query = DNSMessage.query(id: id, name: name, type: type)
        var malformed: String?
        let reply = DNSTransport.exchange(query, with: server, tcp: tcp, until: Clock.monotonic() + timeout) { bytes in
            // Over UDP someone else's id or question is skipped: keep waiting for ours.
            malformed = nil
            do { _ = try DNSMessage.parseResponse(bytes, id: id, name: name, type: type); return true } catch DNSMessageError.malformed(let why) {
                malformed = why; return true
            } catch { malformed = "\(error)"; return tcp }
        }
        guard let reply else { return .silent }
        if let malformed { return .malformed(malformed) }
        do { return .answer(try DNSMessage.parseResponse(reply, id: id, name: name, type: type)) } catch { return .malformed("\(error)") }
    }
}

/// DNS over UDP and TCP (RFC 1035 4.2, RFC 7766) on non-blocking sockets with deadlines
/// (CLOCK_MONOTONIC seconds), for the resolver and the forwarder.
enum DNSTransport {
    /// One query to `server` port 53 on a fresh connected socket (so the kernel picks a
    /// random source port and only the server's datagrams get in). Over TCP the one
    /// length-prefixed reply; over UDP the first datagram `accept` takes. nil on timeout,
    /// refusal (ICMP port unreachable) or a connection closed early.
    static func exchange(_ query: [UInt8], with server: IPAddress, tcp: Bool, until deadline: Double, accept: ([UInt8]) -> Bool) -> [UInt8]? {
        let kind = Int32((tcp ? SOCK_STREAM : SOCK_DGRAM).rawValue) | Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue)
        let fd = socket(server.family == .v4 ? AF_INET : AF_INET6, kind, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard connect(fd, to: server), wait(fd, for: Int16(POLLOUT), until: deadline), socketError(fd) == 0 else { return nil }
        if tcp {
            guard sendAll(fd, framed(query), until: deadline),
                  let prefix = receiveExactly(fd, 2, until: deadline),
                  let reply = receiveExactly(fd, Int(prefix[0]) << 8 | Int(prefix[1]), until: deadline),
                  accept(reply) else { return nil }
            return reply
        }
        guard sendAll(fd, query, until: deadline) else { return nil }
        // Errors end the wait: ECONNREFUSED is an ICMP port unreachable from the server.
        while let reply = try? IO.read(fd, upTo: 65536, until: deadline) {
            if accept(reply) { return reply }
        }
        return nil
    }

    /// `message` with its two-byte length in front, as TCP carries it (RFC 1035 4.2.2).
    static func framed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8 & 0xff), UInt8(message.count & 0xff)] + message
    }

    /// Polls `fd` for `events` until the deadline; false on timeout or error.
    static func wait(_ fd: Int32, for events: Int16, until deadline: Double) -> Bool {
        (try? Poll.wait(fd, for: events, until: deadline)) ?? false
    }

    static func socketError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : errno
    }

    /// Non-blocking connect to port 53; true when done or in progress. A signal during
    /// a non-blocking connect (EINTR) does not abort it: the connection completes
    /// asynchronously like EINPROGRESS, and calling connect again would say EALREADY.
    static func connect(_ fd: Int32, to server: IPAddress) -> Bool {
        let rc = SocketAddress.with(server, 53) { Glibc.connect(fd, $0, $1) }
        return rc == 0 || [EINPROGRESS, EINTR].contains(Errno.current.rawValue)
    }

    /// All of `bytes` on a non-blocking socket by the deadline (a slow reader cannot hold
    /// the caller longer).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Double) -> Bool {
        (try? IO.sendAll(fd, bytes, until: deadline)) != nil
    }

    /// Exactly `count` bytes from a non-blocking socket by the deadline; nil when it is
    /// closed before (or times out).
    static func receiveExactly(_ fd: Int32, _ count: Int, until deadline: Double) -> [UInt8]? {
        guard let bytes = try? IO.read(fd, exactly: count, until: deadline), bytes.count == count else { return nil }
        return bytes
    }
}
