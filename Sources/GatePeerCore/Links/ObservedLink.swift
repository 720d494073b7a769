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
