/// What a dump of the kernel returned, decoded into plain values. The kernel layer fills
/// it; the planner and status views read it. Nothing here holds a pointer.
public struct ObservedState: Sendable {
    /// Every interface of the namespace, ours or not.
    public var links: [ObservedLink]
    /// Every interface address.
    public var addresses: [ObservedAddress]
    /// FDB entries of the vxlan devices.
    public var fdb: [ObservedFDBEntry]
    /// Routes (IPv4 and IPv6) as dumped; `table` and `protocolNumber` say whose.
    public var routes: [ObservedRoute]
    /// Values of the sysctls the planner asked for (see `Planner.sysctlKeys`); a key is
    /// absent when its file does not exist (e.g. the device is not there yet).
    public var sysctls: [SysctlKey: String]
    /// False when the namespace has no IPv6 (no /proc/sys/net/ipv6): IPv6 sysctls are skipped.
    public var ipv6Enabled: Bool
    /// gatepeer's nftables table, nil when absent.
    public var filter: ObservedFilter?
    /// Table inet gatepeer_stage exists: a load was interrupted between building it and
    /// the copy transaction (which deletes it).
    public var filterStaging = false

    /// A state as the kernel layer reads it (defaults for tests); `filter`: gatepeer's
    /// nftables table as read back, nil when absent.
    public init(links: [ObservedLink] = [], addresses: [ObservedAddress] = [], fdb: [ObservedFDBEntry] = [],
                routes: [ObservedRoute] = [], sysctls: [SysctlKey: String] = [:], ipv6Enabled: Bool = true,
                filter: ObservedFilter? = nil) {
        self.links = links
        self.addresses = addresses
        self.fdb = fdb
        self.routes = routes
        self.sysctls = sysctls
        self.ipv6Enabled = ipv6Enabled
        self.filter = filter
    }

    /// The interface named `name`; nil when absent.
    public func link(named name: String) -> ObservedLink? { links.first { $0.name == name } }

    /// The interface with ifindex `index`; nil when absent.
    public func link(index: Int32) -> ObservedLink? { links.first { $0.index == index } }

    /// A route is ours only when everything we would have made matches: protocol 201,
    /// main table, out through one of our own devices (an owned link). A protocol-201 route
    /// through the underlay is someone else's and never touched.
    public func isOwned(_ r: ObservedRoute) -> Bool {
        r.isOwned(through: Set(links.filter(\.isOwned).map(\.index)))
    }
}
