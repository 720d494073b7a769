public enum NATMode: Equatable, Sendable {
    case none
    case masquerade
    case snat(IPAddress)
}
