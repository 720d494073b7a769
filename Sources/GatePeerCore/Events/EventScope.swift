/// Which kernel events concern the running config, so the daemon re-plans only for
/// those and sleeps through the rest (learned FDB entries and ARP churn with every
/// packet; a host's other routes and devices are none of its business).
///
/// An event matters when it is about:
/// - one of our vxlan devices (by name, or by the ifindex it had) or a configured
///   underlay device (MTU, flags, gone or back; a rename counts under the old and the
///   new name);
/// - an address on one of those devices;
/// - a route with our protocol (201) or out through one of our devices, or a route on any
///   device to a destination the config routes (a LAN route, a link's inner network) or
///   to a part of one: someone else's route there takes traffic from us (a blocker);
/// - an FDB entry on one of our devices that is permanent/static or has the all-zero MAC
///   (learned entries, NUD_REACHABLE/STALE, are the driver's and churn with traffic);
/// - netconf (forwarding, rp_filter) of one of our devices or of "all";
/// - nf_tables objects of table inet gatepeer (NftNames.table).
/// - a message of a subscribed kind that could not be decoded: what it changed is
///   unknown, so it counts (a needless pass costs a dump, a missed one a repair).
/// IP neighbour (ARP/NDP) entries never matter: gatepeer owns none.
///
/// The scope tracks ifindex -> name from link events (and a link dump at start or after
/// an overrun), because addresses, routes, FDB entries and netconf name their device by
/// index only. Pure: no kernel access, unit-tested without root.
public struct EventScope: Sendable {
    /// Names of the configured vxlan devices.
    public private(set) var links: Set<String>
    /// Names of the configured underlay devices.
    public private(set) var underlays: Set<String>
    /// Destinations the config routes: every LAN route and each link's inner network.
    public private(set) var destinations: Set<IPPrefix>
    /// ifindex -> name of every device last seen (dump or link events).
    public private(set) var names: [Int32: String]

    /// A scope for `config` with the devices of `names` (ifindex -> name, from a link dump).
    public init(config: GatePeerConfig, names: [Int32: String]) {
        (links, underlays, destinations) = Self.watched(config)
        self.names = names
    }

    private static func watched(_ config: GatePeerConfig) -> (Set<String>, Set<String>, Set<IPPrefix>) {
        (Set(config.links.map(\.name)), Set(config.links.map(\.underlayDevice)),
         Set(config.links.flatMap { l in l.routes.map(\.destination) + [l.innerIpAddress.network] }))
    }

    /// Takes a new running config (SIGHUP); the device table stays.
    public mutating func configure(_ config: GatePeerConfig) {
        (links, underlays, destinations) = Self.watched(config)
    }

    /// Replaces the device table (after a link dump).
    public mutating func setNames(_ names: [Int32: String]) { self.names = names }

    /// True when `e` concerns the config (see the type's comment). Link events also update
    /// the device table, after the decision, so a rename or a delete is judged by the
    /// name the index had as well as by the new one.
    public mutating func take(_ e: KernelEvent) -> Bool {
        switch e {
        case .link(let l, let deleted):
            let before = names[l.index]
            let relevant = isWatched(l.name) || before.map(isWatched) == true
            if deleted { names[l.index] = nil } else { names[l.index] = l.name }
            return relevant
        default:
            return matters(e)
        }
    }

    /// The decision of `take` without updating the device table.
    public func matters(_ e: KernelEvent) -> Bool {
        switch e {
        case .link(let l, _):
            return isWatched(l.name) || names[l.index].map(isWatched) == true
        case .address(let a, _):
            return watchedIndex(a.linkIndex)
        case .route(let r, _):
            return r.hasOurProtocol || r.outputIndex.map(ownIndex) == true || destinations.contains { $0.overlaps(r.destination) && $0.length <= r.destination.length }
        case .fdb(let f, _):
            return ownIndex(f.linkIndex) && (f.mac.isZero || f.state & (ObservedFDBEntry.nudPermanent | ObservedFDBEntry.nudNoARP) != 0)
        case .neighbour:
            return false
        case .netconf(let index):
            return index == KernelEvent.netconfAll || ownIndex(index)
        case .nftables(let table, let family, _):
            return table == NftNames.table && family == KernelEvent.nfprotoInet
        case .other:
            return false
        case .undecodable:
            return true
        }
    }

    private func isWatched(_ name: String) -> Bool { links.contains(name) || underlays.contains(name) }
    private func watchedIndex(_ i: Int32) -> Bool { names[i].map(isWatched) == true }
    private func ownIndex(_ i: Int32) -> Bool { names[i].map { links.contains($0) } == true }
}
