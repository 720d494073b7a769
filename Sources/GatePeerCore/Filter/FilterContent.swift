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
    /// Chains, rules, set definitions and named objects as normalised text (see above).
    public var structure: String
    /// Digest and count of the elements of each set with fixed elements, by set name.
    public var elements: [String: SetElements]
    /// Rules per chain (for the plan line: "chain forward: 0 rules, want 4").
    public var rules: [String: Int]
    /// Elements of sets with timeouts, by set name.
    public var dynamic: [String: [ObservedElement]]

    /// Content as the kernel layer reads or stages it.
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
        /// How many elements were added.
        public var count: Int
        /// An empty set's digest, or given values.
        public init(digest: UInt64 = 0, count: Int = 0) { self.digest = digest; self.count = count }
        /// Adds one element's hash (NftElementHash.of).
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
        return Hex.digits(h, width: 16)
    }
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
