import CSystem
import Glibc

/// A POSIX error number as a type, so an errno cannot be mixed up with a count or a
/// return value. The values are Linux's (errno(3), <asm-generic/errno-base.h>).
///
/// `description` is strerror's text followed by the symbolic name when it is one of the
/// common ones below, e.g. "No such file or directory (ENOENT)"; otherwise the number,
/// "Unknown error 999 (errno 999)".
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    /// The number as errno(3) holds it.
    public let rawValue: Int32

    /// `rawValue`: the errno number as <errno.h> defines it.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// This thread's errno now; read it right after the failing call, before anything
    /// else (a String, a print) can overwrite it.
    public static var current: Errno { Errno(rawValue: gatepeer_errno()) }

    /// EPERM: not permitted (for gatepeer usually: no CAP_NET_ADMIN).
    public static let notPermitted = Errno(rawValue: EPERM)
    /// ENOENT: no such file, directory or (from netlink) object.
    public static let noSuchFile = Errno(rawValue: ENOENT)
    /// ESRCH: no such process.
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// EINTR: a signal arrived during a blocking call; `retryingInterrupts` repeats it.
    public static let interrupted = Errno(rawValue: EINTR)
    /// EIO: input/output error.
    public static let ioError = Errno(rawValue: EIO)
    /// EBADF: not an open descriptor.
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// ECHILD: no such child to wait for.
    public static let noChildProcess = Errno(rawValue: ECHILD)
    /// EAGAIN (= EWOULDBLOCK): a non-blocking call would block.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// ENOMEM: out of memory.
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// EACCES: permission denied by file mode or policy.
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// EBUSY: device or resource busy.
    public static let busy = Errno(rawValue: EBUSY)
    /// EEXIST: already exists.
    public static let exists = Errno(rawValue: EEXIST)
    /// ENODEV: no such device (a link that is gone).
    public static let noSuchDevice = Errno(rawValue: ENODEV)
    /// ENOTDIR: a path component is not a directory.
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    /// EISDIR: is a directory.
    public static let isDirectory = Errno(rawValue: EISDIR)
    /// EINVAL: invalid argument.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// ENOSPC: no space left on device.
    public static let noSpace = Errno(rawValue: ENOSPC)
    /// EPIPE: the reading end is closed.
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// ERANGE: result out of range.
    public static let outOfRange = Errno(rawValue: ERANGE)
    /// ENODATA: no data available.
    public static let noData = Errno(rawValue: ENODATA)
    /// EPROTO: protocol error.
    public static let protocolError = Errno(rawValue: EPROTO)
    /// EMSGSIZE: message too long.
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    /// EOPNOTSUPP: operation not supported.
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    /// EADDRINUSE: address already in use (a bind).
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// EADDRNOTAVAIL: the address is not on this host.
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    /// ENETUNREACH: network is unreachable.
    public static let networkUnreachable = Errno(rawValue: ENETUNREACH)
    /// ECONNRESET: connection reset by peer.
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    /// ENOBUFS: no buffer space (a netlink socket's receive queue overran).
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)
    /// ETIMEDOUT: timed out; also what this layer reports when a deadline passes.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// ECONNREFUSED: connection refused (over UDP: an ICMP port unreachable came back).
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// EHOSTUNREACH: no route to host.
    public static let hostUnreachable = Errno(rawValue: EHOSTUNREACH)
    /// EINPROGRESS: a non-blocking connect has started.
    public static let inProgress = Errno(rawValue: EINPROGRESS)

    /// The symbolic name ("ENOENT") of the common errnos above, nil for others.
    public var name: String? {
        switch rawValue {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case ESRCH: "ESRCH"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case ECHILD: "ECHILD"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case ENODEV: "ENODEV"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case ENOSPC: "ENOSPC"
        case EPIPE: "EPIPE"
        case ERANGE: "ERANGE"
        case ENODATA: "ENODATA"
        case EPROTO: "EPROTO"
        case EMSGSIZE: "EMSGSIZE"
        case EOPNOTSUPP: "EOPNOTSUPP"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case ENETUNREACH: "ENETUNREACH"
        case ECONNRESET: "ECONNRESET"
        case ENOBUFS: "ENOBUFS"
        case ETIMEDOUT: "ETIMEDOUT"
        case ECONNREFUSED: "ECONNREFUSED"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case EINPROGRESS: "EINPROGRESS"
        default: nil
        }
    }

    /// strerror(3)'s text alone, e.g. "No such file or directory".
    public var message: String { String(cString: strerror(rawValue)) }

    /// strerror's text and the constant's name: "Permission denied (EACCES)".
    public var description: String { "\(message) (\(name ?? "errno \(rawValue)"))" }
}
