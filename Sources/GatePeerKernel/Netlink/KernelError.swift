import Glibc

/// A request the kernel refused: which object, the errno of the kernel's NLMSG_ERROR,
/// and the kernel's own extended-ACK message when it sent one ("Cannot change VNI",
/// ...). One of gatepeer's four errors: kernel (this), system (`SystemError`: a failed
/// system call), config (`ConfigError`: the config file is wrong), usage (the command
/// line is wrong).
///
/// `description`: "OBJECT: strerror (errno N): MESSAGE", or "OBJECT: MESSAGE" without
/// an errno; " (attribute at byte K of the request)" follows when the kernel named the
/// attribute it refused.
public struct KernelError: Error, Sendable, CustomStringConvertible {
    /// The object the request was for, as the plan names it ("link vx0", "route 10.0.0.0/8").
    public let object: String
    /// The errno from the kernel's netlink acknowledgement. nil when the request went
    /// through libnftables, which passes the kernel's answer on as text only (then
    /// `kernelMessage` is nft's message; see `NftablesError`).
    public let errno: Int32?
    /// The extended ACK (NLMSGERR_ATTR_MSG), or nft's own message; nil when none came.
    public let kernelMessage: String?
    /// NLMSGERR_ATTR_OFFS: where the refused attribute starts, in bytes from the start of
    /// the request's nlmsghdr; nil when the kernel did not say.
    public let attributeOffset: UInt32?

    /// `errno`: positive errno from the kernel's NLMSG_ERROR (nil when none applies);
    /// `kernelMessage` and `attributeOffset`: the extended ACK (NLMSGERR_ATTR_MSG, _OFFS).
    public init(object: String, errno: Int32?, kernelMessage: String? = nil, attributeOffset: UInt32? = nil) {
        self.object = object
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.attributeOffset = attributeOffset
    }

    /// A refusal reported by libnftables, to join the kernel failures of an apply: no
    /// errno (nft gives none), nft's message as the kernel message.
    public init(_ nft: NftablesError) {
        self.init(object: nft.what, errno: nil, kernelMessage: nft.message)
    }

    /// "OBJECT: strerror (errno N): kernel message (attribute at byte N of the request)",
    /// the last two parts only when the extended ACK carried them.
    public var description: String {
        let km = kernelMessage.map { ": \($0)" } ?? ""
        let at = attributeOffset.map { " (attribute at byte \($0) of the request)" } ?? ""
        guard let errno else { return object + km + at }
        return "\(object): \(String(cString: strerror(errno))) (errno \(errno))\(km)\(at)"
    }
}
