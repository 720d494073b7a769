/// The destination maps of outbound groups (`g<N>_dst4`, `g<N>_dst6`): the only part of
/// the table that grows with the number of rules. They are kept out of the nft text and
/// loaded as raw nf_tables elements, so a policy of 100,000 prefixes neither goes through
/// nft's parser nor makes libnftables load its whole cache, and a changed rule becomes
/// an element delta instead of a reload.
public struct MapInterval: Equatable, Hashable, Sendable {
    public let low: IPAddress
    public let high: IPAddress
    /// The element's verdict: `MapInterval.allow` (return), `MapInterval.deny` (continue),
    /// or the name of a chain to goto (a bundle, or a rule's counting chain).
    public let verdict: String

    /// Allow and deny are not gotos on purpose: an element that jumps makes the kernel
    /// re-validate every jump of the table when the transaction commits (it walks all
    /// elements of every verdict map: ~20 ms at 100,000 rules). `return` leaves the group
    /// for the forward chain, whose next rule counts and accepts; `continue` falls to the
    /// group chain's last rule, which counts, logs and drops.
    public static let allow = "return"
    public static let deny = "continue"

    public init(low: IPAddress, high: IPAddress, verdict: String) {
        self.low = low
        self.high = high
        self.verdict = verdict
    }

    /// nft text of the verdict.
    public var verdictText: String {
        verdict == MapInterval.allow || verdict == MapInterval.deny ? verdict : "goto \(verdict)"
    }
}

public struct IntervalMap: Equatable, Sendable {
    public let name: String
    public let family: IPAddress.Family
    /// Sorted, disjoint; together they cover the family's whole address space.
    public let intervals: [MapInterval]

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

    /// NftNames.destinationGroup, for callers that read map names back.
    public static func destinationGroup(ofMap name: String) -> Int? { NftNames.destinationGroup(ofMap: name) }
}

/// What gatepeer last loaded into the destination maps, kept in the state directory so
/// the next apply can send a delta without dumping 100,000 elements back (a set-element
/// dump walks the kernel's tree from the start for every message: ~0.8 s of kernel time
/// at that size). The copy is only trusted when the kernel's table carries the same
/// fingerprint, and it ends in a checksum, so a stale or torn file means a full load.
public struct LoadedMaps: Equatable, Sendable {
    public let fingerprint: String
    public let maps: [IntervalMap]

    public init(fingerprint: String, maps: [IntervalMap]) {
        self.fingerprint = fingerprint
        self.maps = maps
    }

    static let magic: [UInt8] = Array("gatepeer-maps-3\n".utf8)

    /// FNV-style over 8-byte words (then the tail byte by byte): a torn or damaged file,
    /// not an attacker, is what it guards against, and a byte loop over 1.2 MB cost more
    /// than writing the file.
    static func checksum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = 0
        while i + 8 <= raw.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian) &* 0x0000_0100_0000_01b3
            i += 8
        }
        while i < raw.count { h = (h ^ UInt64(raw[i])) &* 0x0000_0100_0000_01b3; i += 1 }
        return h
    }

    public func encode() -> [UInt8] {
        // Sized first, then stored with raw pointer writes; IPv4 bounds take 4 bytes each:
        // 100,000 IPv4 intervals are 1.2 MB.
        var chainTables: [[String]] = []
        var chainIndexes: [[String: UInt32]] = []
        var size = LoadedMaps.magic.count + 4 + fingerprint.utf8.count + 4 + 8
        for m in maps {
            var index: [String: UInt32] = [:], names: [String] = []
            for iv in m.intervals where index[iv.verdict] == nil {
                index[iv.verdict] = UInt32(names.count)
                names.append(iv.verdict)
            }
            chainTables.append(names)
            chainIndexes.append(index)
            size += 4 + m.name.utf8.count + 1 + 4 + names.reduce(0) { $0 + 4 + $1.utf8.count } + 4 + m.intervals.count * (m.family == .v4 ? 12 : 36)
        }
        var out = [UInt8](repeating: 0, count: size)
        out.withUnsafeMutableBytes { raw in
            var at = 0
            func u32(_ v: UInt32) { raw.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt32.self); at += 4 }
            func u64(_ v: UInt64) { raw.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt64.self); at += 8 }
            func str(_ s: String) {
                u32(UInt32(s.utf8.count))
                for b in s.utf8 { raw[at] = b; at += 1 }
            }
            for b in LoadedMaps.magic { raw[at] = b; at += 1 }
            str(fingerprint)
            u32(UInt32(maps.count))
            for (k, m) in maps.enumerated() {
                str(m.name)
                raw[at] = m.family == .v4 ? 4 : 6; at += 1
                u32(UInt32(chainTables[k].count))
                for n in chainTables[k] { str(n) }
                u32(UInt32(m.intervals.count))
                var last = "", lastIndex: UInt32 = 0
                for iv in m.intervals {
                    if m.family == .v4 {
                        u32(UInt32(truncatingIfNeeded: iv.low.low)); u32(UInt32(truncatingIfNeeded: iv.high.low))
                    } else {
                        u64(iv.low.high); u64(iv.low.low); u64(iv.high.high); u64(iv.high.low)
                    }
                    if iv.verdict != last { last = iv.verdict; lastIndex = chainIndexes[k][iv.verdict]! }
                    u32(lastIndex)
                }
            }
            let sum = LoadedMaps.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<at]))
            u64(sum)
        }
        return out
    }

    /// nil when the bytes are not a complete copy written by `encode`.
    public static func decode(_ bytes: [UInt8]) -> LoadedMaps? {
        guard bytes.count >= magic.count + 8, Array(bytes[0..<magic.count]) == magic else { return nil }
        let body = bytes.count - 8
        return bytes.withUnsafeBytes { raw -> LoadedMaps? in
            guard raw.loadUnaligned(fromByteOffset: body, as: UInt64.self).littleEndian == checksum(UnsafeRawBufferPointer(rebasing: raw[0..<body])) else { return nil }
            var at = magic.count
            func u32() -> UInt32? {
                guard at + 4 <= body else { return nil }
                defer { at += 4 }
                return raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
            }
            func u64() -> UInt64 {
                defer { at += 8 }
                return raw.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian
            }
            func str() -> String? {
                guard let n = u32(), at + Int(n) <= body else { return nil }
                defer { at += Int(n) }
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[at..<at + Int(n)]), as: UTF8.self)
            }
            guard let fp = str(), let count = u32() else { return nil }
            var maps: [IntervalMap] = []
            for _ in 0..<count {
                guard let name = str(), at < body else { return nil }
                let family: IPAddress.Family = raw[at] == 4 ? .v4 : .v6
                at += 1
                guard let nChains = u32() else { return nil }
                var chains: [String] = []
                for _ in 0..<nChains {
                    guard let c = str() else { return nil }
                    chains.append(c)
                }
                guard let n = u32(), at + Int(n) * (family == .v4 ? 12 : 36) <= body else { return nil }
                var intervals: [MapInterval] = []
                intervals.reserveCapacity(Int(n))
                for _ in 0..<n {
                    let low: IPAddress, high: IPAddress
                    if family == .v4 {
                        low = IPAddress(v4: u32()!); high = IPAddress(v4: u32()!)  // in bounds: checked above
                    } else {
                        low = IPAddress(v6High: u64(), v6Low: u64()); high = IPAddress(v6High: u64(), v6Low: u64())
                    }
                    guard let c = u32(), Int(c) < chains.count else { return nil }
                    intervals.append(MapInterval(low: low, high: high, verdict: chains[Int(c)]))
                }
                maps.append(IntervalMap(name: name, family: family, intervals: intervals))
            }
            return at == body ? LoadedMaps(fingerprint: fp, maps: maps) : nil
        }
    }
}

/// FNV-1a 64 over bytes (fingerprints and content digests: change detection, not security).
@inlinable
public func fnv1a64<C: Collection>(_ bytes: C, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where C.Element == UInt8 {
    var h = seed
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
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
