/// Special-purpose address ranges (RFC 6890, RFC 4291) that cannot work in some config
/// fields. An address has at most one class; ordinary unicast has none.
public enum AddressClass: String, Sendable, CaseIterable {
    /// 0.0.0.0 and :: ("this host", never a peer or a route's gateway).
    case unspecified
    /// 127.0.0.0/8 and ::1: never leave the host.
    case loopback
    /// 224.0.0.0/4 and ff00::/8.
    case multicast
    /// 255.255.255.255: never forwarded.
    case limitedBroadcast
    /// ::ffff:0:0/96 (RFC 4291 2.5.5.2): IPv4 as seen through an IPv6 socket; never on
    /// the wire, the kernel sends such a destination as IPv4 or not at all.
    case ipv4Mapped
    /// ::/96 without :: and ::1 (RFC 4291 2.5.5.1, deprecated): no route leads there.
    case ipv4Compatible
    /// fe80::/10: meaningful only with an interface scope, which these fields do not carry.
    case ipv6LinkLocal
    /// 169.254.0.0/16 (RFC 3927): routers do not forward it.
    case ipv4LinkLocal
    /// ::ffff:0:0:0/96 (RFC 2765's IPv4-translated addresses, obsoleted by RFC 6145 and
    /// 6052's 64:ff9b::/96): a stateless translator's internal form, not a host's address.
    case ipv4Translated
    /// fec0::/10 (site-local, deprecated by RFC 3879): its scope was never defined.
    case ipv6SiteLocal

    /// What the class is, for messages ("is an IPv4-mapped IPv6 address (::ffff:0:0/96), ...").
    public var phrase: String {
        switch self {
        case .unspecified: return "the unspecified address"
        case .loopback: return "a loopback address, which never leaves the host"
        case .multicast: return "a multicast address"
        case .limitedBroadcast: return "the limited broadcast address"
        case .ipv4Mapped: return "an IPv4-mapped IPv6 address (::ffff:0:0/96), which stands for IPv4 inside one host's sockets and is never sent as IPv6"
        case .ipv4Compatible: return "a deprecated IPv4-compatible IPv6 address (::/96, RFC 4291), which nothing routes"
        case .ipv6LinkLocal: return "IPv6 link-local (fe80::/10), which needs an interface scope this field cannot carry"
        case .ipv4LinkLocal: return "IPv4 link-local (169.254.0.0/16), which routers do not forward"
        case .ipv4Translated: return "an IPv4-translated IPv6 address (::ffff:0:0:0/96, RFC 2765, obsolete), a translator's internal form"
        case .ipv6SiteLocal: return "a deprecated IPv6 site-local address (fec0::/10, RFC 3879)"
        }
    }

    /// The class as a range, for a prefix inside it ("is inside the multicast range ...").
    public var rangePhrase: String {
        switch self {
        case .unspecified: return "the unspecified address"
        case .loopback: return "the loopback range (127.0.0.0/8, ::1), which never leaves the host"
        case .multicast: return "the multicast range (224.0.0.0/4, ff00::/8)"
        case .limitedBroadcast: return "the limited broadcast address"
        case .ipv4Mapped: return "the IPv4-mapped range (::ffff:0:0/96), which stands for IPv4 inside one host's sockets and is never sent as IPv6"
        case .ipv4Compatible: return "the deprecated IPv4-compatible range (::/96, RFC 4291), which nothing routes"
        case .ipv6LinkLocal: return "the IPv6 link-local range (fe80::/10), which needs an interface scope this field cannot carry"
        case .ipv4LinkLocal: return "the IPv4 link-local range (169.254.0.0/16), which routers do not forward"
        case .ipv4Translated: return "the IPv4-translated range (::ffff:0:0:0/96, RFC 2765, obsolete), a translator's internal form"
        case .ipv6SiteLocal: return "the deprecated IPv6 site-local range (fec0::/10, RFC 3879)"
        }
    }
}

extension IPAddress {
    /// The special-purpose class of this address, nil for ordinary unicast.
    public var addressClass: AddressClass? {
        if isZero { return .unspecified }
        if isLoopback { return .loopback }
        if isMulticast { return .multicast }
        if isLimitedBroadcast { return .limitedBroadcast }
        switch family {
        case .v4:
            return low >> 16 == 0xa9fe ? .ipv4LinkLocal : nil
        case .v6:
            if high == 0 && low >> 32 == 0xffff { return .ipv4Mapped }
            if high == 0 && low >> 32 == 0xffff_0000 { return .ipv4Translated }
            if high >> 54 == 0x3fb { return .ipv6SiteLocal }  // fec0::/10
            if high == 0 && low >> 32 == 0 { return .ipv4Compatible }  // :: and ::1 are caught above
            return isIPv6LinkLocal ? .ipv6LinkLocal : nil
        }
    }

    /// The IPv4 address embedded in an IPv4-mapped or -compatible address, to suggest it.
    public var embeddedIPv4: IPAddress? {
        guard family == .v6, high == 0, low >> 32 == 0xffff || low >> 32 == 0 else { return nil }
        return IPAddress(v4: UInt32(truncatingIfNeeded: low))
    }
}

extension IPPrefix {
    /// The class every address of the prefix belongs to, nil when the prefix is (or
    /// reaches into) ordinary unicast. Each class is one contiguous range, so the first and
    /// last address decide.
    public var addressClass: AddressClass? {
        let c = network.address.addressClass
        return c == lastAddress.addressClass ? c : nil
    }
}

/// Every address or prefix field of every config and command, with the classes it
/// refuses: the one table the decoders (ConfigDecoder, FilterDecoder, IPsecConfig,
/// GrantState, `filter grant`) consult, so a field cannot be forgotten or drift.
///
/// | field                                         | refuses                                           |
/// |-----------------------------------------------|---------------------------------------------------|
/// | links[].outerIpAddress, peers[].outerIpAddress | unspecified loopback multicast broadcast mapped compatible fe80 |
/// | links[].innerIpAddress, peers[].innerIpAddress, routes[].via, ipsec route.*Inside | same |
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
    /// An address on the device subnet: our inner address, a device's, a route's gateway,
    /// an IPsec route-mode inside address.
    case innerAddress
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
        case .outerAddress, .innerAddress, .ipsecEndpoint: return endpoint
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

    /// What the field takes, for messages.
    public var validText: String {
        switch self {
        case .outerAddress: return "a unicast address the underlay routes, such as 192.0.2.1 or 2001:db8::1"
        case .innerAddress: return "a unicast address such as 10.255.255.254/9 or fd00:10::fffe/64"
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
