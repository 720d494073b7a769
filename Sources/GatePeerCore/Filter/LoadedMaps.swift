/// What gatepeer last loaded into the destination maps, kept in the state directory so
/// the next apply can send a delta without dumping 100,000 elements back (a set-element
/// dump walks the kernel's tree from the start for every message: ~0.8 s of kernel time
/// at that size). The copy is only trusted when the kernel's table carries the same
/// fingerprint, and it ends in a checksum, so a stale or torn file means a full load.
public struct LoadedMaps: Equatable, Sendable {
    /// NftRuleset.fingerprint of the table the maps were loaded with (16 hex digits).
    public let fingerprint: String
    /// The destination maps as loaded, elements included.
    public let maps: [IntervalMap]

    /// `fingerprint`: the loaded table's; `maps`: its destination maps.
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

    /// The file's bytes: magic line, the maps (IPv4 bounds 4 bytes, IPv6 16, verdict chains
    /// as indexes into a per-map name table), then a checksum over all before it. `decode`
    /// reads it back, nil when the magic, the layout or the checksum does not match.
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
