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
