/// One kernel notification as the daemon's event sockets decode it: an rtnetlink
/// multicast message (RTNLGRP_LINK, _NEIGH, _IPV4/6_IFADDR, _IPV4/6_ROUTE,
/// _IPV4/6_NETCONF) or an nf_tables one (NFNLGRP_NFTABLES). Objects are decoded by the
/// same codecs as dumps, so an event and a dump reply of one object read the same.
/// `deleted` is true for RTM_DEL* and NFT_MSG_DEL* messages.
public enum KernelEvent: Equatable, Sendable {
    /// RTM_NEWLINK / RTM_DELLINK: a device appeared, changed (flags, MTU, name, alias) or went.
    case link(ObservedLink, deleted: Bool)
    /// RTM_NEWADDR / RTM_DELADDR.
    case address(ObservedAddress, deleted: Bool)
    /// RTM_NEWROUTE / RTM_DELROUTE (every table; the filter looks at protocol and device).
    case route(ObservedRoute, deleted: Bool)
    /// RTM_NEWNEIGH / RTM_DELNEIGH of family AF_BRIDGE: an FDB entry.
    case fdb(ObservedFDBEntry, deleted: Bool)
    /// RTM_NEWNEIGH / RTM_DELNEIGH of an IP family (ARP, NDP): gatepeer owns none.
    case neighbour(linkIndex: Int32)
    /// RTM_NEWNETCONF / RTM_DELNETCONF: a device's (or "all"'s) forwarding, rp_filter, ...
    /// changed. `linkIndex` is NETCONFA_IFINDEX: an ifindex, or `KernelEvent.netconfAll`
    /// (-1) and `KernelEvent.netconfDefault` (-2).
    case netconf(linkIndex: Int32)
    /// An nf_tables message (NFT_MSG_NEW/DEL of a table, chain, rule, set, element, object):
    /// the table it concerns (NFTA_*_TABLE, nil for generation messages) and its
    /// nfgen_family (NFPROTO_INET is 1).
    case nftables(table: String?, family: UInt8, deleted: Bool)
    /// Anything else a subscribed group may carry (an rtnetlink type without a decoder
    /// here): never wakes the reconcile.
    case other(type: UInt16)
    /// A link, address, route, neighbour, netconf or nf_tables message that the codecs
    /// could not decode (too short, an attribute out of bounds): it may have been about
    /// our objects, so it always wakes the reconcile.
    case undecodable(type: UInt16)

    /// NETCONFA_IFINDEX_ALL: the "all" entry (net.ipv4.ip_forward, conf.all.*).
    public static let netconfAll: Int32 = -1
    /// NETCONFA_IFINDEX_DEFAULT: conf.default.*, which only new devices inherit.
    public static let netconfDefault: Int32 = -2
    /// NFPROTO_INET: the family of table inet gatepeer.
    public static let nfprotoInet: UInt8 = 1

    /// The kind of object for logs ("link", "address", "route", "fdb", "neighbour",
    /// "sysctl", "filter", "other"; "other" for an undecodable one too), the repair kinds of DaemonCounters.repairs.
    public var object: String {
        switch self {
        case .link: return "link"
        case .address: return "address"
        case .route: return "route"
        case .fdb: return "fdb"
        case .neighbour: return "neighbour"
        case .netconf: return "sysctl"
        case .nftables: return "filter"
        case .other, .undecodable: return "other"
        }
    }
}
