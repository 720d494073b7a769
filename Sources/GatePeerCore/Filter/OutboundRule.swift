/// One rule of an outbound group: allow or deny a destination (prefix or domain name), on
/// a protocol and destination ports.
public struct OutboundRule: Equatable, Sendable {
    /// Allow or deny.
    public var action: FilterAction
    /// A prefix, or a domain pattern whose addresses are learned from DNS answers.
    public var destination: RuleDestination
    /// IP protocol; `.any` for every protocol.
    public var protocolMatch: ProtocolMatch
    /// Empty: any port.
    public var ports: [PortRange]

    /// A rule as the decoder builds it; no check here (the decoder did them).
    public init(action: FilterAction, destination: RuleDestination, protocolMatch: ProtocolMatch = .any, ports: [PortRange] = []) {
        self.action = action
        self.destination = destination
        self.protocolMatch = protocolMatch
        self.ports = ports
    }

    /// "ACTION DESTINATION [PROTOCOL] [PORTS]", as `filter check` and `filter show` name a rule.
    public var summary: String {
        var s = "\(action.rawValue) \(destination)"
        if protocolMatch != .any { s += " \(protocolMatch)" }
        if !ports.isEmpty { s += " " + ports.map(\.portText).joined(separator: ",") }
        return s
    }
}
