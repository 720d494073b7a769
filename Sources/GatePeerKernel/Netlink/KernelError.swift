import Glibc

/// The one error type of the kernel layer: which object, the errno, and what the kernel
/// said about it in its extended ACK (NETLINK_EXT_ACK): its message ("Cannot change
/// VNI", ...) and the byte offset, in the request, of the attribute it refused.
///
/// `description`: "OBJECT: strerror (errno N): MESSAGE", with " (attribute at byte K
/// of the request)" when the kernel named the attribute.
public struct KernelError: Error, Sendable, CustomStringConvertible {
    /// The object as the request's description names it ("create link gp0").
    public let object: String
    /// The errno the kernel answered, positive.
    public let errno: Int32
    /// NLMSGERR_ATTR_MSG, when the kernel sent one.
    public let kernelMessage: String?
    /// NLMSGERR_ATTR_OFFS: where the refused attribute starts, counted in bytes from the
    /// start of the request's nlmsghdr; nil when the kernel did not say.
    public let attributeOffset: UInt32?

    public init(object: String, errno: Int32, kernelMessage: String? = nil, attributeOffset: UInt32? = nil) {
        self.object = object
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.attributeOffset = attributeOffset
    }

    public var description: String {
        let text = String(cString: strerror(errno))
        let km = kernelMessage.map { ": \($0)" } ?? ""
        let at = attributeOffset.map { " (attribute at byte \($0) of the request)" } ?? ""
        return "\(object): \(text) (errno \(errno))\(km)\(at)"
    }
}
