/// What table inet gatepeer holds that decides traffic, reduced to digests, as the
/// kernel layer read it back (Kernel.observeFilter) or as it staged it for a load.
///
/// The fingerprint counters (fp_/fs_) only say which ruleset was loaded; they survive
/// `nft flush table`, a deleted rule or a flushed set. This is the content itself:
/// - `structure`: chains (name, hook, priority, policy, type), rules (expressions in
///   order), sets' definitions and named objects (counters by name, not their values),
///   normalised to the attributes the loader copies (Kernel.loadFilter's `keep:` lists);
/// - `elements`: per set with fixed elements, an order-independent digest and the count;
/// - `dynamic`: elements of sets with timeouts (grants, learned addresses), compared one
///   by one with the state files (Planner.plan's `dynamic`), never digested.
public struct FilterContent: Equatable, Sendable {
    public var structure: String
    public var elements: [String: SetElements]
    /// Rules per chain (for the plan line: "chain forward: 0 rules, want 4").
    public var rules: [String: Int]
    /// Elements of sets with timeouts, by set name.
    public var dynamic: [String: [ObservedElement]]

    public init(structure: String, elements: [String: SetElements], rules: [String: Int], dynamic: [String: [ObservedElement]]) {
        self.structure = structure
        self.elements = elements
        self.rules = rules
        self.dynamic = dynamic
    }

    /// The elements of one set as a digest and a count (the count names the difference
    /// in a plan line: "map g0_dst4: 16 elements, want 17").
    public struct SetElements: Equatable, Sendable {
        /// Sum of the elements' hashes (NftElementHash): independent of dump order.
        public var digest: UInt64
        public var count: Int
        public init(digest: UInt64 = 0, count: Int = 0) { self.digest = digest; self.count = count }
        public mutating func add(_ h: UInt64) { digest &+= h; count += 1 }
    }

    /// The digest gatepeer stores as counter fk_<hex> at a full load (computed from the
    /// staging table) and compares with at every plan: the structure and every fixed
    /// set's elements except those of `maps`, the destination maps, which are compared
    /// with the rendered intervals directly (their elements change by delta without a
    /// reload, and the planner knows them exactly).
    public func digest(excluding maps: Set<String>) -> String {
        var h = fnv1a64(structure.utf8)
        for name in elements.keys.sorted() where !maps.contains(name) {
            let e = elements[name]!
            h = fnv1a64(name.utf8, seed: h)
            h = (h ^ e.digest) &* 0x0000_0100_0000_01b3
            h = (h ^ UInt64(e.count)) &* 0x0000_0100_0000_01b3
        }
        return NftRenderer.hex(h)
    }
}

/// One element of a set with timeouts as the kernel holds it: the key (and key end of a
/// concatenated interval set) in the kernel's layout, and the goto chain of a verdict map.
public struct ObservedElement: Equatable, Hashable, Sendable {
    public var set: String
    /// NFTA_SET_ELEM_KEY's value, as dumped.
    public var key: [UInt8]
    /// NFTA_SET_ELEM_KEY_END's value; empty outside concatenated interval sets.
    public var keyEnd: [UInt8]
    public var gotoChain: String?
    /// NFTA_SET_ELEM_EXPIRATION as dumped: milliseconds until the kernel drops it; nil
    /// without a timeout. Not part of equality (it runs down); carried by `element` so an
    /// element re-added from what the kernel held keeps its deadline, never becomes permanent.
    public var expiresMs: Int64?
    public init(set: String, key: [UInt8], keyEnd: [UInt8], gotoChain: String?, expiresMs: Int64? = nil) {
        self.set = set
        self.key = key
        self.keyEnd = keyEnd
        self.gotoChain = gotoChain
        self.expiresMs = expiresMs
    }

    public static func == (a: ObservedElement, b: ObservedElement) -> Bool {
        a.set == b.set && a.key == b.key && a.keyEnd == b.keyEnd && a.gotoChain == b.gotoChain
    }

    public func hash(into h: inout Hasher) {
        h.combine(set)
        h.combine(key)
        h.combine(keyEnd)
        h.combine(gotoChain)
    }

    /// What the kernel would hold for `e` (NftBatch.elements sends exactly these bytes).
    public init(_ e: NftElement) {
        self.init(set: e.set, key: e.keyBytes(end: false), keyEnd: e.interval ? e.keyBytes(end: true) : [], gotoChain: e.gotoChain)
    }

    /// The element as NftElement (for the plan line and the delete request), its fields
    /// decoded by the layout of gatepeer's sets (NftNames.dynamicLayout): grant sets are
    /// source . destination [. protocol [. port]], learned-address maps destination
    /// [. protocol [. port]].
    /// Bytes that do not fit that layout are kept as one raw field.
    public var element: NftElement {
        let interval = !keyEnd.isEmpty
        let raw = NftElement(set: set, key: [.raw(key, keyEnd)], interval: interval, timeoutMs: expiresMs, gotoChain: gotoChain)
        guard let layout = NftNames.dynamicLayout(ofSet: set) else { return raw }
        let width = layout.family == .v4 ? 4 : 16
        var kinds: [Int] = layout.grant ? [0, 0] : [0]  // 0 address, 1 proto, 2 port
        switch layout.shape {
        case .ports: kinds += [1, 2]
        case .proto: kinds.append(1)
        case .address: break
        }
        let total = kinds.reduce(0) { $0 + ($1 == 0 ? width : 4) }
        guard key.count == total, keyEnd.isEmpty || keyEnd.count == total else { return raw }
        var fields: [NftElement.Field] = []
        var at = 0
        for k in kinds {
            let n = k == 0 ? width : 4
            let lo = Array(key[at..<at + n]), hi = interval ? Array(keyEnd[at..<at + n]) : lo
            switch k {
            case 0:
                guard let a = IPAddress(bytes: lo), let b = IPAddress(bytes: hi) else { return raw }
                if !interval {
                    fields.append(.address(a))
                } else if let p = IPPrefix.covering(a, b) {
                    fields.append(.prefix(p))
                } else {
                    return raw
                }
            case 1:
                guard lo == hi else { return raw }
                fields.append(.proto(lo[0]))
            default:
                fields.append(.ports(PortRange(low: UInt16(lo[0]) << 8 | UInt16(lo[1]), high: UInt16(hi[0]) << 8 | UInt16(hi[1]))))
            }
            at += n
        }
        let e = NftElement(set: set, key: fields, interval: interval, timeoutMs: expiresMs, gotoChain: gotoChain)
        return ObservedElement(e) == self ? e : raw
    }
}

extension IPPrefix {
    /// The prefix whose range is exactly low...high, if there is one.
    static func covering(_ low: IPAddress, _ high: IPAddress) -> IPPrefix? {
        guard low.family == high.family else { return nil }
        for len in 0...low.family.bitCount {
            if let p = IPPrefix(address: low, length: len), p.network.address == low, p.lastAddress == high { return p }
        }
        return nil
    }
}

/// The hash of one set element, the same whether it comes from a kernel dump or from a
/// rendered interval: FNV-1a 64 over the key, key end, flags, verdict and chain.
public enum NftElementHash {
    /// Inlinable: the kernel layer hashes 200,000 dumped elements with it, and an
    /// unspecialised generic call per byte costs several times the hashing itself.
    @inlinable
    public static func of<K: Collection, E: Collection, C: Collection, D: Collection>(key: K, keyEnd: E, flags: UInt32, verdict: Int32?, chain: C, data: D) -> UInt64
    where K.Element == UInt8, E.Element == UInt8, C.Element == UInt8, D.Element == UInt8 {
        var h = fnv1a64(key)
        h = fnv1a64([0xfe], seed: h)
        h = fnv1a64(keyEnd, seed: h)
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01b3 }
        mix(UInt64(flags))
        mix(verdict.map { UInt64(UInt32(bitPattern: $0)) } ?? 0x1_0000_0000)
        h = fnv1a64(chain, seed: h)
        h = fnv1a64(data, seed: h)
        // Spread the bits: element hashes are summed.
        h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return h
    }

    /// nf_tables verdict codes the destination maps use, and the interval-end flag.
    public static let continueCode: Int32 = -1  // NFT_CONTINUE
    public static let gotoCode: Int32 = -4      // NFT_GOTO
    public static let returnCode: Int32 = -5    // NFT_RETURN
    public static let intervalEnd: UInt32 = 1   // NFT_SET_ELEM_INTERVAL_END
}

extension IntervalMap {
    /// The digest and count of the elements the loader sends for this map (start
    /// elements with their verdict, end elements at high+1), as a kernel dump gives them.
    public var elementDigest: FilterContent.SetElements {
        var s = FilterContent.SetElements()
        for iv in intervals {
            let code: Int32, chain: String
            switch iv.verdict {
            case MapInterval.allow: code = NftElementHash.returnCode; chain = ""
            case MapInterval.deny: code = NftElementHash.continueCode; chain = ""
            default: code = NftElementHash.gotoCode; chain = iv.verdict
            }
            s.add(NftElementHash.of(key: iv.low.bytes, keyEnd: [], flags: 0, verdict: code, chain: chain.utf8, data: []))
            if let next = iv.high.successor {
                s.add(NftElementHash.of(key: next.bytes, keyEnd: [], flags: NftElementHash.intervalEnd, verdict: nil, chain: [], data: []))
            }
        }
        return s
    }
}
