/// One destination verdict map of an outbound group (`g<N>_dst4`/`g<N>_dst6`, or a shard
/// `g<N>_d4_...`, NftNames): a `flags interval` map keyed by a single address, which the
/// kernel backs with nft_set_rbtree (net/netfilter/nft_set_rbtree.c; concatenated interval
/// keys get nft_set_pipapo instead). Its elements are loaded raw, not as nft text.
public struct IntervalMap: Equatable, Sendable {
    /// The map's name in table inet gatepeer (NftNames.groupMap or NftNames.shard).
    public let name: String
    /// The key's family: ipv4_addr or ipv6_addr.
    public let family: IPAddress.Family
    /// Sorted, disjoint; together they cover the family's whole address space.
    public let intervals: [MapInterval]

    /// `intervals` must already be sorted, disjoint and covering (CompiledPolicy does that).
    public init(name: String, family: IPAddress.Family, intervals: [MapInterval]) {
        self.name = name
        self.family = family
        self.intervals = intervals
    }

    /// The elements to delete and to add to turn `old` into `self`. An interval whose
    /// bounds or value changed is deleted whole and added anew: the kernel checks each
    /// added interval against the ones that stay, so deletions go first.
    public func delta(from old: IntervalMap) -> (remove: [MapInterval], add: [MapInterval]) {
        // Both lists are sorted by their low address: one merge walk, no hashing.
        var remove: [MapInterval] = [], add: [MapInterval] = []
        let a = old.intervals, b = intervals
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].low < b[j].low) {
                remove.append(a[i]); i += 1
            } else if i == a.count || b[j].low < a[i].low {
                add.append(b[j]); j += 1
            } else {
                if a[i] != b[j] { remove.append(a[i]); add.append(b[j]) }
                i += 1; j += 1
            }
        }
        return (remove, add)
    }

    /// nft text of the elements (for `filter show`).
    public var elementsText: String {
        intervals.map { iv in
            let key = iv.low == iv.high ? "\(iv.low)" : "\(iv.low)-\(iv.high)"
            return "\(key) : \(iv.verdictText)"
        }.joined(separator: ",\n      ")
    }
}

extension IntervalMap {
    /// `intervals` (sorted, disjoint, covering the family's space) cut into prefix-aligned
    /// shards of at most `limit` intervals: the space is halved until each part fits, and
    /// an interval that crosses a cut is clipped into both parts. One shard, the whole
    /// space, when they fit already.
    ///
    /// Why: committing a change to an interval map makes the kernel rebuild the map's
    /// lookup array and scan it for expired elements, two walks over every element
    /// (nft_rbtree_commit, ~20 ms at 200,000 elements). In shards, a changed rule costs
    /// the walk of its own shard. The cuts depend only on the intervals, so a small
    /// change moves no shard boundary unless a part crosses the limit.
    public static func shards(_ intervals: [MapInterval], family: IPAddress.Family, limit: Int) -> [(prefix: IPPrefix, intervals: [MapInterval])] {
        let whole = IPPrefix(address: family == .v4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, v6Low: 0), length: 0)!
        guard intervals.count > limit else { return [(whole, intervals)] }
        var out: [(prefix: IPPrefix, intervals: [MapInterval])] = []
        /// First index in i...j whose interval ends at or after `a`.
        func firstEnding(atOrAfter a: IPAddress, _ i: Int, _ j: Int) -> Int {
            var lo = i, hi = j + 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if intervals[mid].high < a { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        // intervals[i...j] are exactly those that overlap `prefix`.
        func split(_ prefix: IPPrefix, _ i: Int, _ j: Int) {
            let first = prefix.address, last = prefix.lastAddress
            if j - i + 1 <= limit || prefix.length == family.bitCount {
                out.append((prefix, intervals[i...j].map { iv in
                    MapInterval(low: max(iv.low, first), high: min(iv.high, last), verdict: iv.verdict)
                }))
                return
            }
            let left = IPPrefix(address: first, length: prefix.length + 1)!
            let rightStart = left.lastAddress.successor!
            let k = firstEnding(atOrAfter: rightStart, i, j)
            split(left, i, intervals[k].low < rightStart ? k : k - 1)
            split(IPPrefix(address: rightStart, length: prefix.length + 1)!, k, j)
        }
        split(whole, 0, intervals.count - 1)
        return out
    }
}

extension IntervalMap {
    /// Folds the map into a running FNV-1a hash (the table fingerprint covers the elements
    /// without rendering them as text).
    func digest(into h: inout UInt64) {
        // Word at a time (change detection, not security); a verdict's bytes are hashed
        // once per run of equal verdicts.
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01b3 }
        h = fnv1a64(name.utf8, seed: h)
        var lastVerdict = "", verdictHash: UInt64 = 0
        for iv in intervals {
            if iv.verdict != lastVerdict { lastVerdict = iv.verdict; verdictHash = fnv1a64(iv.verdict.utf8) }
            mix(iv.low.high); mix(iv.low.low); mix(iv.high.high); mix(iv.high.low); mix(verdictHash)
        }
    }
}
