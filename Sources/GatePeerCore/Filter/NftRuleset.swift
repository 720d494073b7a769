/// Table inet gatepeer as NftRenderer renders it for one config: the model (`table`),
/// its nft text, the destination maps whose elements are loaded raw, and the
/// fingerprints the kernel keeps as counter names (NftNames.Metadata).
public struct NftRuleset: Equatable, Sendable {
    /// The table as a value (NftTable), fingerprint counters included; the destination
    /// maps are declared without their elements (those are `maps`).
    public let table: NftTable
    /// `table` as nft text: everything nft parses. No set asks nft to merge intervals
    /// (`auto-merge`), and elements are declared inline: either would make libnftables
    /// load the kernel's whole ruleset, 100,000 elements included, first.
    public let text: String
    /// The destination maps' elements, loaded as raw nf_tables elements.
    public let maps: [IntervalMap]
    /// FNV-1a 64 of the text and the maps; kept in the kernel as the name of a counter
    /// (NftNames.Metadata.fingerprint).
    public let fingerprint: String
    /// FNV-1a 64 of the text alone (NftNames.Metadata.skeleton): when the kernel's equals
    /// ours, only map elements differ and a delta suffices.
    public let skeletonFingerprint: String
    /// The outbound groups as compiled, in config order (`status` credits the maps'
    /// element counters to rules by them).
    public let compiled: [CompiledPolicy]
    /// Elements of the device, backend and source sets and intervals of the destination
    /// maps (the plan line's "N set elements"); level maps, port sets and the guard's sets
    /// are not counted.
    public let elementCount: Int

    /// The whole table as nft text, the destination maps' elements included (`filter show`).
    public var fullText: String {
        var elements: [String: String] = [:]
        for m in maps where !m.intervals.isEmpty { elements[m.name] = m.elementsText }
        return table.text(leading: elements)
    }

    /// One nft transaction that builds the skeleton in a dormant staging table (its
    /// hooks are not registered, so it never sees a packet), with `extras` (grant and
    /// learned elements) declared inline in their sets: an `add element` command would
    /// make libnftables load the whole ruleset. nil when an extra's set is not declared.
    public func stagingTransaction(extras: [NftElement]) -> String? {
        var bySet: [String: [String]] = [:]
        for e in extras {
            guard table.set(named: e.set) != nil else { return nil }
            bySet[e.set, default: []].append(e.text)
        }
        var staged = table
        staged.name = NftNames.stagingTable
        staged.dormant = true
        let t = "\(staged.family) \(staged.name)"
        return "table \(t)\ndelete table \(t)\n" + staged.text(leading: bySet.mapValues { $0.joined(separator: ", ") })
    }

    /// Rules per chain as rendered, and whether the chain is a base chain (has a hook).
    public var chainRules: [String: (rules: Int, base: Bool)] {
        var out: [String: (rules: Int, base: Bool)] = [:]
        for c in table.chains { out[c.name] = (c.rules.count, c.hook != nil) }
        return out
    }

    /// Destination maps larger than this are split into shards (IntervalMap.shards).
    public static let shardLimit = 2048
}
