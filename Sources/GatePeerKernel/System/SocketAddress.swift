import GatePeerCore
import Glibc

/// IPAddress <-> sockaddr for the DNS resolver and forwarder.
enum SocketAddress {
    static func address(of s: sockaddr_storage) -> IPAddress? {
        var storage = s
        let family = Int32(s.ss_family)
        return withUnsafePointer(to: &storage) { p -> IPAddress? in
            switch family {
            case AF_INET:
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { IPAddress(v4: UInt32(bigEndian: $0.pointee.sin_addr.s_addr)) }
            case AF_INET6:
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var a = sin6.pointee.sin6_addr
                    return withUnsafeBytes(of: &a) { IPAddress(bytes: Array($0)) }
                }
            default: return nil
            }
        }
    }

    static func with<T>(_ a: IPAddress, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if a.family == .v4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = UInt32(truncatingIfNeeded: a.low).bigEndian
            return withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in for (i, b) in a.bytes.enumerated() { raw[i] = b } }
        return withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
    }
}
