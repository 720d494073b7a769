/// Where an outbound rule's packets go: a network prefix, or the addresses DNS gives for
/// a domain pattern (learned while the daemon forwards answers or resolves the name).
public enum RuleDestination: Hashable, Sendable, CustomStringConvertible {
    case prefix(IPPrefix)
    case domain(DomainPattern)
    /// The prefix (`203.0.113.0/24`) or the pattern (`*.example.com`) as written.
    public var description: String {
        switch self {
        case .prefix(let p): return p.description
        case .domain(let d): return d.description
        }
    }
}
