public enum FilterAction: String, Equatable, Sendable {
    case allow, deny
}
