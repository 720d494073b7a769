/// A domain name pattern: `api.example.com`, or `*.example.com` for exactly one label.
public struct DomainPattern: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let wildcard: Bool
    public var description: String { wildcard ? "*.\(name)" : name }

    public func matches(_ fqdn: String) -> Bool {
        let n = fqdn.lowercased().hasSuffix(".") ? String(fqdn.lowercased().dropLast()) : fqdn.lowercased()
        guard wildcard else { return n == name }
        guard n.hasSuffix("." + name) else { return false }
        let label = n.dropLast(name.count + 1)
        return !label.isEmpty && !label.contains(".")
    }
}
