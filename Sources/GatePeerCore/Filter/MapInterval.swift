/// The destination maps of outbound groups (`g<N>_dst4`, `g<N>_dst6`): the only part of
/// the table that grows with the number of rules. They are kept out of the nft text and
/// loaded as raw nf_tables elements, so a policy of 100,000 prefixes neither goes through
/// nft's parser nor makes libnftables load its whole cache, and a changed rule becomes
/// an element delta instead of a reload.
public struct MapInterval: Equatable, Hashable, Sendable {
    /// First address of the interval (inclusive); the element's key.
    public let low: IPAddress
    /// Last address of the interval (inclusive); the element's key end.
    public let high: IPAddress
    /// The element's verdict: `MapInterval.allow` (return), `MapInterval.deny` (continue),
    /// or the name of a chain to goto (a bundle, or a rule's counting chain).
    public let verdict: String

    /// Allow and deny are not gotos on purpose: an element that jumps makes the kernel
    /// re-validate every jump of the table when the transaction commits (it walks all
    /// elements of every verdict map: ~20 ms at 100,000 rules). `return` leaves the group
    /// for the forward chain, whose next rule counts and accepts; `continue` falls to the
    /// group chain's last rule, which counts, logs and drops.
    public static let allow = "return"
    /// See `allow`.
    public static let deny = "continue"

    /// `low` <= `high`, same family; `verdict` as documented on the property.
    public init(low: IPAddress, high: IPAddress, verdict: String) {
        self.low = low
        self.high = high
        self.verdict = verdict
    }

    /// nft text of the verdict.
    public var verdictText: String {
        verdict == MapInterval.allow || verdict == MapInterval.deny ? verdict : "goto \(verdict)"
    }
}
