import CSystem
import Glibc

/// One datagram to an AF_UNIX SOCK_DGRAM socket named by path: what sd_notify(3) does
/// for a service manager's $NOTIFY_SOCKET, without libsystemd.
public enum UnixDatagram {
    /// Sends `bytes` as one datagram to `path`: a file system path ("/run/systemd/notify")
    /// or, with a leading "@", a name in the abstract namespace (unix(7): the "@" stands
    /// for the leading NUL byte). A fresh socket per call (close-on-exec, non-blocking:
    /// a full receive queue is EAGAIN, never a daemon waiting on its service manager).
    /// Throws SystemError naming `path`: the path is empty or longer than sun_path
    /// (EINVAL), or socket(2)/sendto(2) failed (ENOENT, ECONNREFUSED: no listener;
    /// EAGAIN: its queue is full).
    public static func send(_ bytes: [UInt8], to path: String) throws(SystemError) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var name = Array(path.utf8)
        if name.first == UInt8(ascii: "@") { name[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        // A path needs room for its NUL; an abstract name is counted by length, not NUL.
        guard !name.isEmpty, name.count <= (name[0] == 0 ? capacity : capacity - 1) else {
            throw SystemError("sendto", "notify socket \(path) (an absolute path or @name up to \(capacity - 1) bytes)", .invalidArgument)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in name.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count + (name[0] == 0 ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", "notify socket \(path)", .current) }
        defer { close(fd) }
        let sent = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { b in
                    retryingInterrupts { sendto(fd, b.baseAddress, b.count, Int32(MSG_NOSIGNAL), sa, length) }
                }
            }
        }
        guard sent == bytes.count else { throw SystemError("sendto", "notify socket \(path)", sent < 0 ? .current : .messageTooLong) }
    }
}
