/// A protocol match: any, or one IP protocol number (tcp 6, udp 17, icmp 1, icmpv6 58, ...).
public enum ProtocolMatch: Hashable, Sendable, CustomStringConvertible {
    case any
    case number(UInt8)

    /// The protocol names a config may use, with their IANA protocol numbers.
    public static let names: [String: UInt8] = ["icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "icmpv6": 58, "sctp": 132, "udplite": 136]

    /// "tcp", "udp", ..., "any", or a number 0..255.
    public static func parse(_ s: String) -> ProtocolMatch? {
        if s == "any" { return .any }
        if let n = names[s] { return .number(n) }
        if let n = DecimalText.parse(s, in: 0...255) { return .number(UInt8(n)) }
        return nil
    }

    /// Whether packets of this protocol have ports to match: tcp, udp, dccp, sctp, udplite.
    public var carriesPorts: Bool {
        if case .number(let n) = self { return [6, 17, 33, 132, 136].contains(n) }
        return false
    }

    /// The name ("tcp") when it has one, else the number; "any".
    public var description: String {
        switch self {
        case .any: return "any"
        case .number(let n): return ProtocolMatch.names.first { $0.value == n }?.key ?? String(n)
        }
    }
}
