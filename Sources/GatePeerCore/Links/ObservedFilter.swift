/// What the kernel holds of table inet gatepeer: the fingerprint of the ruleset it was
/// loaded from, its named counters, and its content read back.
public struct ObservedFilter: Equatable, Sendable {
    /// Fingerprint of the ruleset the table was loaded from (counter fp_<hex>); nil when none.
    public var fingerprint: String?
    /// Fingerprint of the table without the destination maps' elements (counter fs_).
    public var skeleton: String?
    /// The table's named counters by name (nft `counter` objects), packets and bytes.
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
    /// A table as the kernel layer reads it back.
    public init(fingerprint: String?, skeleton: String? = nil, counters: [String: PacketCount],
                loadedContent: String? = nil, content: FilterContent? = nil) {
        self.fingerprint = fingerprint
        self.skeleton = skeleton
        self.counters = counters
        self.loadedContent = loadedContent
        self.content = content
    }
}
