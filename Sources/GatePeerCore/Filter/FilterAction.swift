/// What an outbound rule or a group's default does with a matching packet: `allow`
/// forwards it, `deny` drops it (logged when `logDrops`). Raw values as in the config.
public enum FilterAction: String, Equatable, Sendable {
    case allow, deny
}
