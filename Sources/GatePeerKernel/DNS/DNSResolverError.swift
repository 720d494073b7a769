import GatePeerCore
import Glibc

/// Why `DNSResolver.resolve` has no answer for a name. Not a `KernelError` (the kernel
/// refused nothing) nor a `SystemError` (a silent or broken server is not a failed call).
///
/// `description`: "resolve NAME: DETAIL", e.g. "resolve example.com: no answer from
/// 192.0.2.53, 192.0.2.54".
public struct DNSResolverError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for callers that act on the kind.
    public enum Reason: Sendable, Equatable {
        /// The name is not a valid DNS name (DNSMessage.isValidName); nothing was sent.
        case invalidName
        /// Every server answered, but only with messages that do not parse or do not
        /// match the question.
        case malformedAnswers
        /// Some server stayed silent (timeout), refused (ICMP port unreachable), closed
        /// the TCP connection early, or there are no servers.
        case noAnswer
    }

    /// The name that was asked for, as given.
    public let name: String
    /// Why there is no answer, for callers that act on the kind.
    public let reason: Reason
    /// Which servers and what each did, for the operator.
    public let detail: String

    /// "resolve NAME: DETAIL".
    public var description: String { "resolve \(name): \(detail)" }
}
