/// Devices (by source prefix) and what they may reach beyond the backends.
public struct OutboundGroup: Equatable, Sendable {
    public var name: String
    /// Empty in the file means every link's device subnet; filled in by the decoder.
    public var sources: [IPPrefix]
    public var defaultAction: FilterAction
    public var rules: [OutboundRule]

    public init(name: String, sources: [IPPrefix], defaultAction: FilterAction = .deny, rules: [OutboundRule] = []) {
        self.name = name
        self.sources = sources
        self.defaultAction = defaultAction
        self.rules = rules
    }
}
