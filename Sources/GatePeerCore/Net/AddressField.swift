/// Every address or prefix field of every config and command, with the classes it
/// refuses: the one table the decoders (ConfigDecoder, FilterDecoder, IPsecDecoder,
/// GrantState, `filter grant`) consult, so a field cannot be forgotten or drift.
///
/// | field                                         | refuses                                           |
/// |-----------------------------------------------|---------------------------------------------------|
/// | links[].outerIpAddress, peers[].outerIpAddress | unspecified loopback multicast broadcast mapped compatible fe80 |
/// | links[].innerIpAddress, ipsec route.*Inside   | same                                              |
/// | peers[].innerIpAddress, peers[].probeAddress, routes[].via | same (written without a length) |
/// | routes[].destination                          | loopback multicast broadcast mapped compatible fe80 prefixes, and /0 |
/// | filter.snatAddress                            | all of the above, 169.254/16, translated, fec0 |
/// | filter.resolvers[]                            | unspecified loopback multicast broadcast mapped compatible fe80 translated fec0 |
/// | filter.backendPrefixes[]                      | loopback multicast mapped compatible fe80, and /0 |
/// | filter outbound sources, rule destinations, inbound from, grants from/to, filter check | unspecified loopback multicast broadcast mapped compatible fe80 (never in a forwarded packet) |
/// | ipsec local/remote address                    | unspecified loopback multicast broadcast mapped compatible fe80 |
/// | ipsec local/remote subnets                    | loopback multicast mapped compatible fe80 169.254/16 |
public enum AddressField: Sendable {
    /// A tunnel endpoint on the underlay: our outer address or a gate peer's.
    case outerAddress
    /// An address on the device subnet written with its length: our inner address, an
    /// IPsec route-mode inside address.
    case innerAddress
    /// An address of the device side written without a length: a peer's
    /// `innerIpAddress` and `probeAddress`, a route's `via`.
    case deviceAddress
    /// A LAN route's destination prefix.
    case routeDestination
    /// The source address NAT writes into packets bound for the internet.
    case snatAddress
    /// A DNS server the filter asks.
    case resolver
    /// A destination devices always reach, outside the outbound policy.
    case backendPrefix
    /// A prefix matched against forwarded packets: group sources, rule destinations,
    /// inbound sources, grant ends.
    case filterMatch
    /// An IPsec site's IKE endpoint.
    case ipsecEndpoint
    /// An IPsec traffic selector.
    case ipsecSubnet

    /// The classes this field refuses.
    public var refused: Set<AddressClass> {
        let endpoint: Set<AddressClass> = [.unspecified, .loopback, .multicast, .limitedBroadcast, .ipv4Mapped, .ipv4Compatible, .ipv6LinkLocal]
        switch self {
        case .outerAddress, .innerAddress, .deviceAddress, .ipsecEndpoint: return endpoint
        case .resolver: return endpoint.union([.ipv4Translated, .ipv6SiteLocal])
        case .routeDestination: return endpoint.subtracting([.unspecified])
        case .snatAddress: return endpoint.union([.ipv4LinkLocal, .ipv4Translated, .ipv6SiteLocal])
        case .backendPrefix: return [.loopback, .multicast, .ipv4Mapped, .ipv4Compatible, .ipv6LinkLocal]
        // A forwarded packet never carries these (the kernel drops martians, keeps
        // loopback, multicast and link-local to the host): a rule on them never matches.
        case .filterMatch: return endpoint
        // A tunnel policy carries routed traffic: link-local packets never leave their
        // link, so a selector for them matches nothing a router hands the tunnel.
        case .ipsecSubnet: return [.loopback, .multicast, .ipv4Mapped, .ipv4Compatible, .ipv6LinkLocal, .ipv4LinkLocal]
        }
    }

    /// Whether the whole address space (0.0.0.0/0, ::/0) cannot be meant here, and why.
    public var wholeSpaceProblem: String? {
        switch self {
        case .routeDestination: return "would take over the default route; valid: the LAN prefix behind the device"
        case .backendPrefix: return "would make every destination a backend, which turns the outbound policy off; valid: the backends' prefixes such as 172.31.0.0/24 (to allow everything, use an outbound rule)"
        default: return nil
        }
    }

    /// The refusal for address `a` in this field, nil when it can work here. `length` is
    /// the prefix length written with an interface address, kept in the suggestion.
    /// `text` (how the value was written) is formatted only for a refusal: a config of
    /// 10,000 routes checks 20,000 addresses that almost always pass.
    public func problem(_ a: IPAddress, length: Int? = nil, text: @autoclosure () -> String) -> String? {
        guard let c = a.addressClass, refused.contains(c) else { return nil }
        let text = text()
        if let v4 = a.embeddedIPv4, c == .ipv4Mapped || c == .ipv4Compatible {
            let suffix = length.map { $0 >= 96 ? "/\($0 - 96)" : "" } ?? ""
            return "\(text) is \(c.phrase); valid: write it as IPv4, \(v4)\(suffix)"
        }
        return "\(text) is \(c.phrase); valid: \(validText)"
    }

    /// The refusal for network prefix `p` in this field, nil when it can work here.
    public func problem(_ p: IPPrefix, text: @autoclosure () -> String) -> String? {
        if p.length == 0, let why = wholeSpaceProblem { return "\(text()) \(why)" }
        guard let c = p.addressClass, refused.contains(c) else { return nil }
        let text = text()
        if let v4 = p.address.embeddedIPv4, p.length >= 96, c == .ipv4Mapped || c == .ipv4Compatible {
            return "\(text) is inside \(c.rangePhrase); valid: write it as IPv4, \(v4)/\(p.length - 96)"
        }
        return "\(text) is inside \(c.rangePhrase); valid: \(validText)"
    }

    /// Why `pre` (written `text`) is no network prefix for this field: host bits set. The
    /// suggested network address is the one the field takes; when the field refuses its
    /// class, that is the problem reported (never a suggestion the next run refuses).
    public func hostBitsProblem(_ pre: IPPrefix, text: String) -> String? {
        guard pre.hasHostBits else { return nil }
        return problem(pre.network, text: text) ?? "\(text) has host bits set; valid: the network address \(pre.network)"
    }

    /// What the field takes, for messages.
    public var validText: String {
        switch self {
        case .outerAddress: return "a unicast address the underlay routes, such as 192.0.2.1 or 2001:db8::1"
        case .innerAddress: return "a unicast address such as 10.255.255.254/9 or fd00:10::fffe/64"
        case .deviceAddress: return "a unicast address without a length, such as 10.255.255.1 or fd00:10::1"
        case .routeDestination: return "the LAN prefix behind the device, such as 192.168.10.0/24"
        case .snatAddress: return "a public unicast address of this host, such as 203.0.113.5"
        case .resolver: return "a DNS server's unicast address, such as 203.0.113.53"
        case .backendPrefix: return "the backends' prefixes, such as 172.31.0.0/24"
        case .filterMatch: return "a prefix such as 203.0.113.0/24 or 2001:db8::/32"
        case .ipsecEndpoint: return "the unicast address IKE runs on, such as 192.0.2.1"
        case .ipsecSubnet: return "a unicast prefix such as 10.1.0.0/24"
        }
    }
}
