/// Checks of an IPsec site beyond its shape: proposals against RFC 8221 (ESP), RFC 8247
/// (IKEv2) and strongSwan's recommendations, traffic selectors, and the pre-shared key.
/// Errors stop validate/render/apply; warnings are printed (and are the only trace of a
/// weak algorithm a site allowed with `allowWeak`).
public struct IPsecFinding: Equatable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public let severity: Severity
    public let path: String
    public let message: String
    public var description: String { "\(severity.rawValue): \(path): \(message)" }
}
