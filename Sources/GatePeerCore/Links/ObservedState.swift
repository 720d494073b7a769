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

    /// A route is ours only when everything we would have made matches: protocol 201,
    /// main table, out through one of our own devices (an owned link). A protocol-201 route
    /// through the underlay is someone else's and never touched.
    public func isOwned(_ r: ObservedRoute) -> Bool {
        r.isOwned(through: Set(links.filter(\.isOwned).map(\.index)))
    }
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
    /// IFLA_PROP_LIST/IFLA_ALT_IFNAME: alternative names; the kernel refuses a new device
    /// whose name is another device's altname.
    public var altNames: [String] = []

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

    /// Ours only when everything we would have made matches: a vxlan device whose alias is
    /// exactly `gatepeer:<its own name>`. A bridge with a `gatepeer:` alias, or a vxlan
    /// named x with alias `gatepeer:y`, is someone else's and never touched.
    public var isOwned: Bool { kind == "vxlan" && alias == Ownership.alias(forLink: name) }

    /// A device that carries our marker prefix without being ours (see `isOwned`).
    public var looksOwned: Bool { !isOwned && (alias?.hasPrefix(Ownership.aliasPrefix) ?? false) }
}

public struct VXLANAttributes: Equatable, Sendable {
    public var id: UInt32
    public var port: UInt16
    public var portRange: PortRange
    public var local: IPAddress?
    public var underlayIndex: Int32?
    public var learning: Bool
    /// IFLA_VXLAN_GROUP/GROUP6: the default remote (unicast or multicast), if any.
    public var group: IPAddress? = nil
    /// The receive-side options the kernel compares when it checks that a VNI is free
    /// (vxlan_vni_in_use: VXLAN_F_RCV_FLAGS): "gbp", "gpe", "external" (collect metadata),
    /// "remcsumrx", "remcsum-nopartial", "udp6zerocsumrx". Sorted; empty for ours.
    public var receiveFlags: [String] = []
    /// IFLA_VXLAN_VNIFILTER: the device carries a list of VNIs instead of one.
    public var vniFilter: Bool = false

    /// Every receive option the kernel compares before two devices share a UDP socket
    /// (VXLAN_F_RCV_FLAGS): `receiveFlags`, plus "vnifilter". Empty for ours.
    public var receiveOptions: [String] { receiveFlags + (vniFilter ? ["vnifilter"] : []) }

    public init(id: UInt32, port: UInt16, portRange: PortRange, local: IPAddress?, underlayIndex: Int32?, learning: Bool) {
        self.id = id
        self.port = port
        self.portRange = portRange
        self.local = local
        self.underlayIndex = underlayIndex
        self.learning = learning
    }

    /// The outer family the kernel files the device's socket under: IPv6 when its local or
    /// default remote address is IPv6, else IPv4.
    public var family: IPAddress.Family { (local ?? group)?.family ?? .v4 }
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

/// One AF_BRIDGE neighbour (FDB entry) as the kernel's vxlan driver dumps it
/// (vxlan_fdb_info): one entry per remote, so an all-zero MAC with two gate peers is two
/// entries. The kernel leaves out an attribute that equals the device's own value:
/// NDA_PORT when the remote port is the device's destination port, NDA_VNI when the
/// remote VNI is the device's VNI, NDA_SRC_VNI unless the device is in collect-metadata
/// mode, NDA_IFINDEX when no outgoing device was given. nil here means "not sent".
public struct ObservedFDBEntry: Equatable, Sendable {
    public var linkIndex: Int32
    public var mac: MACAddress
    public var destination: IPAddress?
    /// ndm_state: NUD_PERMANENT (0x80) for entries made by hand or by us, NUD_NOARP (0x40)
    /// for `static` ones, NUD_REACHABLE (0x02) for learned ones.
    public var state: UInt16
    /// ndm_flags (NTF_SELF 0x02, NTF_MASTER 0x04, NTF_EXT_LEARNED 0x10, NTF_ROUTER 0x80, ...).
    public var flags: UInt8
    /// NDA_PORT: UDP destination port toward this remote; nil = the device's port.
    public var port: UInt16?
    /// NDA_VNI: VNI sent toward this remote; nil = the device's VNI.
    public var vni: UInt32?
    /// NDA_SRC_VNI: the VNI the entry is filed under (collect-metadata devices only).
    public var sourceVNI: UInt32?
    /// NDA_IFINDEX: outgoing underlay device for this remote; nil = the routing decides.
    public var outgoingIndex: Int32?

    /// NUD_PERMANENT (linux/neighbour.h): the entry never ages out.
    public static let nudPermanent: UInt16 = 0x80
    /// NUD_NOARP (linux/neighbour.h): `bridge fdb ... static`; the entry never ages out.
    public static let nudNoARP: UInt16 = 0x40
    /// NTF_SELF (linux/neighbour.h): the device's own table, not a bridge master's.
    public static let ntfSelf: UInt8 = 0x02

    public init(linkIndex: Int32, mac: MACAddress, destination: IPAddress?, permanent: Bool,
                flags: UInt8 = ObservedFDBEntry.ntfSelf, port: UInt16? = nil, vni: UInt32? = nil,
                sourceVNI: UInt32? = nil, outgoingIndex: Int32? = nil) {
        self.init(linkIndex: linkIndex, mac: mac, destination: destination,
                  state: permanent ? ObservedFDBEntry.nudPermanent : 0x02 /* NUD_REACHABLE */,
                  flags: flags, port: port, vni: vni, sourceVNI: sourceVNI, outgoingIndex: outgoingIndex)
    }

    public init(linkIndex: Int32, mac: MACAddress, destination: IPAddress?, state: UInt16, flags: UInt8,
                port: UInt16?, vni: UInt32?, sourceVNI: UInt32?, outgoingIndex: Int32?) {
        self.linkIndex = linkIndex; self.mac = mac; self.destination = destination; self.state = state
        self.flags = flags; self.port = port; self.vni = vni; self.sourceVNI = sourceVNI; self.outgoingIndex = outgoingIndex
    }

    /// NUD_PERMANENT is set (learned entries have NUD_REACHABLE instead).
    public var permanent: Bool { state & ObservedFDBEntry.nudPermanent != 0 }

    /// True when the entry steers traffic exactly as the device itself would: no port,
    /// VNI, source VNI or outgoing device of its own (the kernel omits those attributes
    /// only when they equal the device's).
    public var usesDeviceDefaults: Bool { port == nil && vni == nil && sourceVNI == nil && outgoingIndex == nil }

    /// An all-zero entry exactly as gatepeer makes one for a gate peer (`bridge fdb append
    /// 00:00:00:00:00:00 dev gpN dst PEER` reads back the same): all-zero MAC, permanent,
    /// flags exactly NTF_SELF, the device's port and VNI.
    /// State is one value per MAC, shared by all its remotes: each append rewrites it for
    /// the whole all-zero entry (`bridge fdb append` sends NUD_PERMANENT|NUD_NOARP, 0xc0;
    /// we send NUD_PERMANENT, 0x80). NUD_NOARP changes nothing for a vxlan entry (both
    /// bits mean "never ages"), so it is ignored.
    public var isGatePeerEntry: Bool {
        mac.isZero && destination != nil && hasPermanentState && flags == ObservedFDBEntry.ntfSelf && usesDeviceDefaults
    }

    /// An entry as the vxlan driver files one it learned from a packet (vxlan_snoop:
    /// NUD_REACHABLE, flags exactly NTF_SELF) at the device's port and VNI. Entries made
    /// with `bridge fdb add/replace` carry NUD_PERMANENT (`permanent`, the default) or
    /// NUD_NOARP (`static`), or NTF_EXT_LEARNED (`extern_learn`), and never age out;
    /// `bridge fdb add ... dynamic` files the learned state and ages out like one.
    public var isLearned: Bool {
        !mac.isZero && state & (ObservedFDBEntry.nudPermanent | ObservedFDBEntry.nudNoARP) == 0
            && flags == ObservedFDBEntry.ntfSelf && usesDeviceDefaults
    }

    /// NUD_PERMANENT, with or without NUD_NOARP (0x40), and nothing else.
    public var hasPermanentState: Bool { state & ~ObservedFDBEntry.nudNoARP == ObservedFDBEntry.nudPermanent }

    /// The non-default attributes as `bridge fdb` prints them, for plan lines.
    public var attributeText: String {
        var s = ""
        if let port { s += " port \(port)" }
        if let vni { s += " vni \(vni)" }
        if let sourceVNI { s += " src_vni \(sourceVNI)" }
        if let outgoingIndex { s += " via ifindex \(outgoingIndex)" }
        if !hasPermanentState { s += " state 0x\(String(state, radix: 16))" }
        if flags != ObservedFDBEntry.ntfSelf { s += " flags 0x\(String(flags, radix: 16))" }
        return s
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

    /// Protocol 201 alone does not make a route ours: see `ObservedState.isOwned(_:)`,
    /// which also wants it in the main table and out through one of our own devices.
    public var hasOurProtocol: Bool { protocolNumber == Ownership.routeProtocol }

    /// Ours: protocol 201, main table, out through one of `devices` (our links' indexes).
    public func isOwned(through devices: Set<Int32>) -> Bool {
        hasOurProtocol && table == ObservedRoute.mainTable && outputIndex.map { devices.contains($0) } == true
    }
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
    /// The table is dormant (NFT_TABLE_F_DORMANT): it holds rules but no hook runs them.
    /// A full load that stopped half way through its swap leaves it so (the staging
    /// table then enforces); anyone can set it with `nft add table inet gatepeer { flags
    /// dormant; }`. Either way it is drift.
    public var dormant = false
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
