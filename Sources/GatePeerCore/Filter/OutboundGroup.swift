/// Devices (by source prefix) and what they may reach beyond the backends.
public struct OutboundGroup: Equatable, Sendable {
    /// 1 to 32 characters of A-Z a-z 0-9 _ -; names the group's chains and counters.
    public var name: String
    /// Empty in the file means every link's device subnet; filled in by the decoder.
    public var sources: [IPPrefix]
    /// What a packet that no rule matches gets (default deny).
    public var defaultAction: FilterAction
    /// In config order; the most specific destination decides (docs/filter.md), exact ties are refused.
    public var rules: [OutboundRule]

    /// A group as the decoder builds it (sources already filled in).
    public init(name: String, sources: [IPPrefix], defaultAction: FilterAction = .deny, rules: [OutboundRule] = []) {
        self.name = name
        self.sources = sources
        self.defaultAction = defaultAction
        self.rules = rules
    }
}
