import CNetlink  // SOCK_* with Glibc: which clang module owns <sys/socket.h> depends on the compile batch
import GatePeerCore
import Glibc

/// ICMP echo (ping) through one vxlan device, for VPG gate peer liveness: a raw ICMP
/// (IPv4) or ICMPv6 socket bound to the device with SO_BINDTODEVICE, so a probe leaves
/// through the tunnel even when a route elsewhere covers the target, non-blocking so
/// the daemon reads it from a DispatchSourceRead on its one queue.
///
/// A raw socket and not a ping socket (SOCK_DGRAM, IPPROTO_ICMP): ping sockets need the
/// process's group in net.ipv4.ping_group_range, which is empty by default ("1 0") and a
/// namespace-wide sysctl gatepeer does not own. Raw sockets need CAP_NET_RAW instead.
/// Every raw ICMP socket sees every echo reply of the namespace, so replies are matched
/// by the identifier this socket draws at random and by the source address.
public final class EchoSocket {
    /// The descriptor, for the daemon's read source; closed when this value goes.
    public let fd: Int32
    public let family: IPAddress.Family
    /// The ICMP echo identifier of this socket's probes (random, fixed for its life).
    public let identifier: UInt16
    public let device: String
    private var buffer = [UInt8](repeating: 0, count: 2048)

    /// Opens the socket and binds it to `device`. Throws SystemError naming the device:
    /// EPERM without CAP_NET_RAW, ENODEV while the device does not exist.
    public init(device: String, family: IPAddress.Family) throws {
        let domain = family == .v4 ? AF_INET : AF_INET6
        let proto = family == .v4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6)
        let s = socket(domain, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        guard s >= 0 else { throw SystemError("socket(SOCK_RAW)", "echo probe socket on \(device)", .current) }
        let bound = Array(device.utf8CString).withUnsafeBytes {
            setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, $0.baseAddress, socklen_t($0.count))
        }
        guard bound == 0 else {
            let e = Errno.current
            close(s)
            throw SystemError("setsockopt(SO_BINDTODEVICE)", "echo probe socket on \(device)", e)
        }
        if family == .v4 {
            // ICMP_FILTER (SOL_RAW, <linux/icmp.h>): a bit set drops that type; only
            // echo replies (type 0) reach this socket, not every error of the namespace.
            var filter: UInt32 = ~UInt32(1)
            _ = setsockopt(s, 255 /* SOL_RAW */, 1 /* ICMP_FILTER */, &filter, socklen_t(MemoryLayout<UInt32>.size))
        } else {
            // ICMP6_FILTER (IPPROTO_ICMPV6, RFC 3542 3.2): without it every ICMPv6 message
            // on the device (neighbour solicitations and adverts, MLD, router adverts)
            // wakes the daemon. A bit set blocks that type; only echo replies pass.
            var filter = EchoSocket.echoReplyOnlyICMPv6Filter
            let set = setsockopt(s, Int32(IPPROTO_ICMPV6), 1 /* ICMP6_FILTER */, &filter, socklen_t(MemoryLayout<UInt32>.size * 8))
            guard set == 0 else {
                let e = Errno.current
                close(s)
                throw SystemError("setsockopt(ICMP6_FILTER)", "echo probe socket on \(device)", e)
            }
        }
        fd = s
        self.family = family
        self.device = device
        identifier = UInt16.random(in: 1...UInt16.max)
    }

    deinit { close(fd) }

    /// struct icmp6_filter (eight 32-bit words, bit `type` set = blocked) that passes
    /// only echo replies (type 129).
    public static var echoReplyOnlyICMPv6Filter: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) {
        let all = UInt32.max
        return (all, all, all, all, all & ~(UInt32(1) << (129 & 31)), all, all, all)
    }

    /// Sends one echo request with `sequence` to `target`. Throws SystemError (the
    /// device went away: ENODEV or ENXIO; no route; a full send buffer: EAGAIN).
    public func send(to target: IPAddress, sequence: UInt16) throws {
        // ICMP header (type, code, checksum, identifier, sequence) and 8 bytes of payload.
        var p: [UInt8] = [family == .v4 ? 8 : 128, 0, 0, 0,
                          UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)]
        p += Array("gatepeer".utf8)
        // The kernel computes the ICMPv6 checksum itself (it covers a pseudo-header).
        if family == .v4 {
            let c = EchoSocket.checksum(p)
            p[2] = UInt8(c >> 8); p[3] = UInt8(c & 0xff)
        }
        let n = SocketAddress.with(target, 0) { sa, len in p.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, len) } }
        guard n == p.count else { throw SystemError("sendto", "echo probe to \(target) on \(device)", n < 0 ? .current : .ioError) }
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock probes are timed with (RTT = the
    /// reply's `at` minus the moment just before its request's sendto).
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Every echo reply waiting on the socket that answers one of this socket's probes:
    /// (who answered, sequence, `now()` when it was read). Returns when the socket has
    /// nothing more (EAGAIN).
    public func receiveReplies() -> [(from: IPAddress, sequence: UInt16, at: UInt64)] {
        var out: [(IPAddress, UInt16, UInt64)] = []
        while true {
            var from = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &len) }
                }
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return out }
            let at = EchoSocket.now()
            if let r = EchoSocket.reply(Array(buffer[0..<n]), family: family, identifier: identifier),
               let a = SocketAddress.address(of: from) {
                out.append((a, r, at))
            }
        }
    }

    /// The sequence number of an echo reply to `identifier` in `packet` (IPv4: with its
    /// IP header, as raw sockets deliver it; IPv6: the ICMPv6 message alone); nil for
    /// anything else.
    static func reply(_ packet: [UInt8], family: IPAddress.Family, identifier: UInt16) -> UInt16? {
        var i = 0
        if family == .v4 {
            guard let first = packet.first else { return nil }
            i = Int(first & 0x0f) * 4
        }
        guard packet.count >= i + 8, packet[i] == (family == .v4 ? 0 : 129), packet[i + 1] == 0 else { return nil }
        guard UInt16(packet[i + 4]) << 8 | UInt16(packet[i + 5]) == identifier else { return nil }
        return UInt16(packet[i + 6]) << 8 | UInt16(packet[i + 7])
    }

    /// The Internet checksum (RFC 1071) of `bytes`.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
