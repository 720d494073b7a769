/// A backend prefix allowed to open connections toward devices, on a protocol and ports.
public struct InboundRule: Equatable, Sendable {
    public var from: IPPrefix
    public var protocolMatch: ProtocolMatch
    public var ports: [PortRange]

    public init(from: IPPrefix, protocolMatch: ProtocolMatch = .any, ports: [PortRange] = []) {
        self.from = from
        self.protocolMatch = protocolMatch
        self.ports = ports
    }
}
