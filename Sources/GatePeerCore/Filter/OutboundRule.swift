public struct OutboundRule: Equatable, Sendable {
    public var action: FilterAction
    public var destination: RuleDestination
    public var protocolMatch: ProtocolMatch
    /// Empty: any port.
    public var ports: [PortRange]

    public init(action: FilterAction, destination: RuleDestination, protocolMatch: ProtocolMatch = .any, ports: [PortRange] = []) {
        self.action = action
        self.destination = destination
        self.protocolMatch = protocolMatch
        self.ports = ports
    }

    public var summary: String {
        var s = "\(action.rawValue) \(destination)"
        if protocolMatch != .any { s += " \(protocolMatch)" }
        if !ports.isEmpty { s += " " + ports.map(\.portText).joined(separator: ",") }
        return s
    }
}
