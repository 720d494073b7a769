/// One result of IPsecLint: an error or a warning at a JSON path of the config.
public struct IPsecFinding: Equatable, Sendable, CustomStringConvertible {
    /// `error` stops validate, render and apply; `warning` is printed only.
    public enum Severity: String, Sendable { case error, warning }
    /// Error or warning.
    public let severity: Severity
    /// JSON path of the value, such as `ipsec.sites[0].espProposals[1]`.
    public let path: String
    /// What is wrong or weak, and what would be valid.
    public let message: String
    /// "SEVERITY: PATH: MESSAGE", one line of `ipsec lint`.
    public var description: String { "\(severity.rawValue): \(path): \(message)" }
}
