public enum RuleDestination: Hashable, Sendable, CustomStringConvertible {
    case prefix(IPPrefix)
    case domain(DomainPattern)
    public var description: String {
        switch self {
        case .prefix(let p): return p.description
        case .domain(let d): return d.description
        }
    }
}
