/// A backend prefix allowed to open connections toward devices, on a protocol and ports.
public struct InboundRule: Equatable, Sendable {
    /// Source prefix (a backend's), the side that opens the connection.
    public var from: IPPrefix
    /// IP protocol; `.any` for every protocol.
    public var protocolMatch: ProtocolMatch
    /// Destination port ranges on the device; empty: any port.
    public var ports: [PortRange]

    /// `ports` empty means any port; `protocolMatch` .any means every protocol.
    public init(from: IPPrefix, protocolMatch: ProtocolMatch = .any, ports: [PortRange] = []) {
        self.from = from
        self.protocolMatch = protocolMatch
        self.ports = ports
    }
}
