/// One network interface as an RTM_NEWLINK dump gives it (ifinfomsg and IFLA_* attributes).
public struct ObservedLink: Equatable, Sendable {
    /// ifindex.
    public var index: Int32
    /// IFLA_IFNAME.
    public var name: String
    /// IFLA_INFO_KIND ("vxlan", "veth", ...); nil for devices without link info (lo, most NICs).
    public var kind: String?
    /// IFLA_IFALIAS; `gatepeer:<name>` marks a link as ours (Ownership).
    public var alias: String?
    /// IFLA_MTU, bytes.
    public var mtu: Int
    /// IFLA_ADDRESS; nil for devices without a 6-byte hardware address.
    public var mac: MACAddress?
    /// IFF_UP: administratively up.
    public var isUp: Bool
    /// IFLA_OPERSTATE as `ip link` names it: "up", "down", "unknown", "lowerlayerdown", ...
    public var operState: String
    /// IFLA_INFO_DATA of a vxlan device; nil for other kinds.
    public var vxlan: VXLANAttributes?
    /// IFLA_STATS64 counters; nil when the dump carried none.
    public var stats: LinkStats?
    /// IFLA_PROP_LIST/IFLA_ALT_IFNAME: alternative names; the kernel refuses a new device
    /// whose name is another device's altname.
    public var altNames: [String] = []

    /// A link as the kernel layer decodes it (defaults for tests).
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
