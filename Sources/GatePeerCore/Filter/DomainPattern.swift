/// A domain name pattern: `api.example.com`, or `*.example.com` for exactly one label.
public struct DomainPattern: Hashable, Sendable, CustomStringConvertible {
    /// Lowercase, without a trailing dot or the `*.` of a wildcard.
    public let name: String
    /// `*.name`: exactly one more label in front of `name` (not `name` itself, not two labels).
    public let wildcard: Bool
    /// As written in a config: `api.example.com` or `*.example.com`.
    public var description: String { wildcard ? "*.\(name)" : name }

    /// Whether `fqdn` (any case, trailing dot or not, as a DNS answer names it) is covered.
    public func matches(_ fqdn: String) -> Bool {
        let n = fqdn.lowercased().hasSuffix(".") ? String(fqdn.lowercased().dropLast()) : fqdn.lowercased()
        guard wildcard else { return n == name }
        guard n.hasSuffix("." + name) else { return false }
        let label = n.dropLast(name.count + 1)
        return !label.isEmpty && !label.contains(".")
    }
}
