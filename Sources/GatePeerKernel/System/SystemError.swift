/// A system call that failed: which call, on what, and the errno it returned. The one
/// error for failed system calls (files, sockets, processes); a request the kernel
/// refused over netlink is a `KernelError` instead, since it carries the kernel's
/// extended ACK and names a network object rather than a call.
///
/// `description`: "OBJECT: CALL: strerror (ENAME)", e.g.
/// "/var/lib/gatepeer/grants.json: open: Permission denied (EACCES)".
public struct SystemError: Error, Sendable, CustomStringConvertible {
    /// The call as its man page names it ("open", "write", "poll", "waitpid").
    public let call: String
    /// What it was for: a path, "socket to 192.0.2.53 port 53", "pid 4711".
    public let object: String
    /// What the call returned in errno (or, for a deadline that passed, `.timedOut`).
    public let errno: Errno

    /// `call` as its man page names it, `object` what it was for, `errno` as returned.
    public init(_ call: String, _ object: String, _ errno: Errno) {
        self.call = call
        self.object = object
        self.errno = errno
    }

    /// "OBJECT: CALL: strerror (ENAME)".
    public var description: String { "\(object): \(call): \(errno)" }
}
