/// What a dump of the kernel returned, decoded into plain values. The kernel layer fills
/// it; the planner and status views read it. Nothing here holds a pointer.
public struct ObservedState: Sendable {
    public var links: [ObservedLink]
    public var addresses: [ObservedAddress]
    public var fdb: [ObservedFDBEntry]
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

    public init(links: [ObservedLink] = [], addresses: [ObservedAddress] = [], fdb: [ObservedFDBEntry] = [],
                routes: [ObservedRoute] = [], sysctls: [SysctlKey: String] = [:], ipv6Enabled: Bool = true) {
        self.links = links
        self.addresses = addresses
        self.fdb = fdb
        self.routes = routes
        self.sysctls = sysctls
        self.ipv6Enabled = ipv6Enabled
    }

    public func link(named name: String) -> ObservedLink? { links.first { $0.name == name } }

    public init(links: [ObservedLink] = [], addresses: [ObservedAddress] = [], fdb: [ObservedFDBEntry] = [],
                routes: [ObservedRoute] = [], sysctls: [SysctlKey: String] = [:], ipv6Enabled: Bool = true,
                filter: ObservedFilter?) {
        self.init(links: links, addresses: addresses, fdb: fdb, routes: routes, sysctls: sysctls, ipv6Enabled: ipv6Enabled)
        self.filter = filter
    }
    public func link(index: Int32) -> ObservedLink? { links.first { $0.index == index } }
}

public struct ObservedLink: Equatable, Sendable {
    public var index: Int32
    public var name: String
    public var kind: String?
    public var alias: String?
    public var mtu: Int
    public var mac: MACAddress?
    /// IFF_UP: administratively up.
    public var isUp: Bool
    public var operState: String
    public var vxlan: VXLANAttributes?
    public var stats: LinkStats?

    public init(index: Int32, name: String, kind: String? = nil, alias: String? = nil, mtu: Int = 1500,
                mac: MACAddress? = nil, isUp: Bool = false, operState: String = "unknown",
                vxlan: VXLANAttributes? = nil, stats: LinkStats? = nil) {
        self.index = index
        self.name = name
        self.kind = kind
        self.alias = alias
        self.mtu = mtu
        self.mac = mac
        self.isUp = isUp
        self.operState = operState
        self.vxlan = vxlan
        self.stats = stats
    }

    /// Ours only when the alias carries our marker; everything else is never touched.
    public var isOwned: Bool { alias?.hasPrefix(Ownership.aliasPrefix) ?? false }
}

public struct VXLANAttributes: Equatable, Sendable {
    public var id: UInt32
    public var port: UInt16
    public var portRange: PortRange
    public var local: IPAddress?
    public var underlayIndex: Int32?
    public var learning: Bool

    public init(id: UInt32, port: UInt16, portRange: PortRange, local: IPAddress?, underlayIndex: Int32?, learning: Bool) {
        self.id = id
        self.port = port
        self.portRange = portRange
        self.local = local
        self.underlayIndex = underlayIndex
        self.learning = learning
    }
}

public struct LinkStats: Equatable, Sendable {
    public var rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64
    public init(rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64) {
        self.rxPackets = rxPackets; self.rxBytes = rxBytes; self.txPackets = txPackets; self.txBytes = txBytes
    }
}

public struct ObservedAddress: Equatable, Sendable {
    public var linkIndex: Int32
    /// The address with its prefix length, as configured (host bits kept).
    public var prefix: IPPrefix
    public init(linkIndex: Int32, prefix: IPPrefix) { self.linkIndex = linkIndex; self.prefix = prefix }
}

public struct ObservedFDBEntry: Equatable, Sendable {
    public var linkIndex: Int32
    public var mac: MACAddress
    public var destination: IPAddress?
    public var permanent: Bool
    public init(linkIndex: Int32, mac: MACAddress, destination: IPAddress?, permanent: Bool) {
        self.linkIndex = linkIndex; self.mac = mac; self.destination = destination; self.permanent = permanent
    }
}

public struct ObservedRoute: Equatable, Sendable {
    public static let mainTable: UInt32 = 254
    public var table: UInt32
    public var protocolNumber: UInt8
    public var destination: IPPrefix
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    public var type: UInt8
    /// RTA_PRIORITY (the metric); nil when the kernel sent none (IPv4 metric 0).
    public var priority: UInt32?
    public var scope: UInt8

    public init(table: UInt32 = ObservedRoute.mainTable, protocolNumber: UInt8, destination: IPPrefix,
                gateway: IPAddress?, outputIndex: Int32?, type: UInt8 = 1, priority: UInt32? = nil, scope: UInt8 = 0) {
        self.table = table
        self.protocolNumber = protocolNumber
        self.destination = destination
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.type = type
        self.priority = priority
        self.scope = scope
    }

    /// The metric our own requests get (none for IPv4, the kernel's 1024 for IPv6), which
    /// is what NLM_F_REPLACE replaces.
    public var hasDefaultMetric: Bool {
        destination.family == .v4 ? (priority ?? 0) == 0 : (priority ?? 1024) == 1024
    }

    public var isOwned: Bool { protocolNumber == Ownership.routeProtocol }
}

/// A sysctl by its components, so that interface names containing dots (eth0.100)
/// map to the right /proc/sys path.
public struct SysctlKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let components: [String]
    public init(_ components: String...) { self.components = components }
    public init(components: [String]) { self.components = components }
    public var description: String { components.joined(separator: ".") }
    public var procPath: String { "/proc/sys/" + components.joined(separator: "/") }
    /// The interface a per-device key (net.ipv4.conf.DEV.x) is about; nil for global keys.
    public var device: String? {
        guard components.count == 5, components[2] == "conf", !["all", "default"].contains(components[3]) else { return nil }
        return components[3]
    }
    public var isIPv6: Bool { components.count > 1 && components[1] == "ipv6" }
    public static func < (a: SysctlKey, b: SysctlKey) -> Bool { a.description < b.description }

    public static let ipv4Forward = SysctlKey("net", "ipv4", "ip_forward")
    public static let ipv6Forward = SysctlKey("net", "ipv6", "conf", "all", "forwarding")
    public static func rpFilter(_ dev: String) -> SysctlKey { SysctlKey("net", "ipv4", "conf", dev, "rp_filter") }
    public static func acceptRA(_ dev: String) -> SysctlKey { SysctlKey("net", "ipv6", "conf", dev, "accept_ra") }
}

/// What the kernel holds of table inet gatepeer: the fingerprint of the ruleset it was
/// loaded from, its named counters, and its content read back.
public struct ObservedFilter: Equatable, Sendable {
    public var fingerprint: String?
    /// Fingerprint of the table without the destination maps' elements (counter fs_).
    public var skeleton: String?
    public var counters: [String: PacketCount]
    /// The content digest gatepeer computed from the staging table when it loaded the
    /// table (counter fk_<hex>); nil for a table loaded without one.
    public var loadedContent: String?
    /// The table's content as read back now (nil when it was not read).
    public var content: FilterContent?
    /// The destination maps hold exactly what gatepeer's load or delta of this
    /// fingerprint sent, and nothing was committed since (their elements were not read).
    public var mapsAsLoaded: String?
    public init(fingerprint: String?, skeleton: String? = nil, counters: [String: PacketCount],
                loadedContent: String? = nil, content: FilterContent? = nil) {
        self.fingerprint = fingerprint
        self.skeleton = skeleton
        self.counters = counters
        self.loadedContent = loadedContent
        self.content = content
    }
}

public struct PacketCount: Equatable, Sendable {
    public var packets: UInt64
    public var bytes: UInt64
    public init(packets: UInt64, bytes: UInt64) { self.packets = packets; self.bytes = bytes }
    public static func + (a: PacketCount, b: PacketCount) -> PacketCount {
        PacketCount(packets: a.packets + b.packets, bytes: a.bytes + b.bytes)
    }
}
