import Glibc

/// A request the kernel refused: which object, the errno of the kernel's NLMSG_ERROR,
/// and the kernel's own extended-ACK message when it sent one ("Cannot change VNI",
/// ...). One of gatepeer's four errors: kernel (this), system (`SystemError`: a failed
/// system call), config (`ConfigError`: the config file is wrong), usage (the command
/// line is wrong).
///
/// `description`: "OBJECT: strerror (errno N): MESSAGE", or "OBJECT: MESSAGE" without
/// an errno.
public struct KernelError: Error, Sendable, CustomStringConvertible {
    /// The object the request was for, as the plan names it ("link vx0", "route 10.0.0.0/8").
    public let object: String
    /// The errno from the kernel's netlink acknowledgement. nil when the request went
    /// through libnftables, which passes the kernel's answer on as text only (then
    /// `kernelMessage` is nft's message; see `NftablesError`).
    public let errno: Int32?
    /// The extended ACK (NLMSGERR_ATTR_MSG), or nft's own message; nil when none came.
    public let kernelMessage: String?

    public init(object: String, errno: Int32?, kernelMessage: String? = nil) {
        self.object = object
        self.errno = errno
        self.kernelMessage = kernelMessage
    }

    /// A refusal reported by libnftables, to join the kernel failures of an apply: no
    /// errno (nft gives none), nft's message as the kernel message.
    public init(_ nft: NftablesError) {
        self.init(object: nft.what, errno: nil, kernelMessage: nft.message)
    }

    public var description: String {
        let km = kernelMessage.map { ": \($0)" } ?? ""
        guard let errno else { return object + km }
        return "\(object): \(String(cString: strerror(errno))) (errno \(errno))\(km)"
    }
}
