/// The `filter` section: what devices may reach beyond the backends, how their traffic
/// leaves (NAT), MSS clamping, and which backends may open connections to devices.
/// Rendered into one nftables table owned by gatepeer (see NftRenderer).
public struct FilterConfig: Equatable, Sendable {
    /// The interface devices' internet traffic leaves through (NAT is applied there).
    public var uplinkDevice: String?
    public var nat: NATMode
    /// Clamp the MSS of every forwarded TCP SYN and SYN/ACK to what its route carries
    /// (`rt mtu`), and of those out of a tunnel also to the tunnel MTU (docs/filter.md).
    public var mssClamp: Bool
    /// Log dropped packets (rate-limited) with the prefix "gatepeer-drop".
    public var logDrops: Bool
    /// Backends: always reachable by devices, and (by default) allowed to reach them.
    public var backendPrefixes: [IPPrefix]
    /// Who may open connections toward devices. nil: every backend prefix, anything.
    public var inbound: [InboundRule]?
    public var outbound: [OutboundGroup]
    public var resolvers: [IPAddress]
    /// Learned addresses stay at least TTL + this many seconds.
    public var domainSlackSeconds: Int
    public var maxAddressesPerName: Int
    /// Serve DNS on the links' inner addresses and learn from the answers (wildcard
    /// rules need it). nil: on when a rule names a domain.
    public var dnsForwarder: Bool?

    public var runsDNSForwarder: Bool { dnsForwarder ?? !domainPatterns.isEmpty }

    /// The outbound groups compiled, once, by the decoder (which must compile them anyway
    /// to find ties); nil for a FilterConfig built by hand, which the renderer compiles.
    public var compiled: [CompiledPolicy]?

    public init(uplinkDevice: String? = nil, nat: NATMode = .masquerade, mssClamp: Bool = true, logDrops: Bool = true,
                backendPrefixes: [IPPrefix] = [], inbound: [InboundRule]? = nil, outbound: [OutboundGroup] = [],
                resolvers: [IPAddress] = [], domainSlackSeconds: Int = 300, maxAddressesPerName: Int = 16) {
        self.uplinkDevice = uplinkDevice
        self.nat = nat
        self.mssClamp = mssClamp
        self.logDrops = logDrops
        self.backendPrefixes = backendPrefixes
        self.inbound = inbound
        self.outbound = outbound
        self.resolvers = resolvers
        self.domainSlackSeconds = domainSlackSeconds
        self.maxAddressesPerName = maxAddressesPerName
    }
}

public enum NATMode: Equatable, Sendable {
    case none
    case masquerade
    case snat(IPAddress)
}

public enum FilterAction: String, Equatable, Sendable {
    case allow, deny
}

/// A protocol match: any, or one IP protocol number (tcp 6, udp 17, icmp 1, icmpv6 58, ...).
public enum ProtocolMatch: Hashable, Sendable, CustomStringConvertible {
    case any
    case number(UInt8)

    public static let names: [String: UInt8] = ["icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "icmpv6": 58, "sctp": 132, "udplite": 136]

    /// "tcp", "udp", ..., "any", or a number 0..255.
    public static func parse(_ s: String) -> ProtocolMatch? {
        if s == "any" { return .any }
        if let n = names[s] { return .number(n) }
        if let n = DecimalText.parse(s, in: 0...255) { return .number(UInt8(n)) }
        return nil
    }

    public var carriesPorts: Bool {
        if case .number(let n) = self { return [6, 17, 33, 132, 136].contains(n) }
        return false
    }

    public var description: String {
        switch self {
        case .any: return "any"
        case .number(let n): return ProtocolMatch.names.first { $0.value == n }?.key ?? String(n)
        }
    }
}

/// A domain name pattern: `api.example.com`, or `*.example.com` for exactly one label.
public struct DomainPattern: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let wildcard: Bool
    public var description: String { wildcard ? "*.\(name)" : name }

    public func matches(_ fqdn: String) -> Bool {
        let n = fqdn.lowercased().hasSuffix(".") ? String(fqdn.lowercased().dropLast()) : fqdn.lowercased()
        guard wildcard else { return n == name }
        guard n.hasSuffix("." + name) else { return false }
        let label = n.dropLast(name.count + 1)
        return !label.isEmpty && !label.contains(".")
    }
}

public enum RuleDestination: Hashable, Sendable, CustomStringConvertible {
    case prefix(IPPrefix)
    case domain(DomainPattern)
    public var description: String {
        switch self {
        case .prefix(let p): return p.description
        case .domain(let d): return d.description
        }
    }
}

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
