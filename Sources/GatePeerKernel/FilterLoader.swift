import CNetlink
import GatePeerCore
import Glibc

/// Loading table inet gatepeer.
///
/// libnftables is what compiles nft text into expressions, but it is slow at the one
/// thing a large policy has: elements. Any `add element` to an interval set, or an
/// `auto-merge` set, makes it load every element of every table first (about a second
/// with 100,000), and parsing 100,000 elements costs as much again. So:
///
/// - Full load: libnftables builds the skeleton (everything but the destination maps'
///   elements) in a dormant staging table, which costs milliseconds; gatepeer reads it
///   back over netlink and sends one nf_tables transaction that deletes the old table,
///   recreates it from the staging copy, adds the destination maps' elements raw and
///   deletes the staging table. Readers see the old table or the new one, never a mix.
/// - Delta: when the kernel's skeleton fingerprint equals ours and the map cache holds
///   what is loaded, one transaction deletes and adds only the elements that differ and
///   swaps the fingerprint counter. Unchanged elements keep their counters.
extension Kernel {
    static let counterType = UInt32(1)  // NFT_OBJECT_COUNTER

    static func attrs<T: RawRepresentable>(_ a: T...) -> Set<UInt16> where T.RawValue: BinaryInteger {
        Set(a.map { UInt16($0.rawValue) })
    }

    /// Builds the skeleton in the staging table with `extras` inline; if nft refuses them
    /// (an element that no longer fits, say), without. Returns the extras still to load.
    private func stage(_ rs: NftRuleset, extras: [NftElement]) throws -> [NftElement] {
        if let text = rs.stagingTransaction(extras: extras), (try? nft.run(text, what: "nftables staging table")) != nil {
            return []
        }
        try nft.run(rs.stagingTransaction(extras: [])!, what: "nftables staging table")
        return extras
    }

    /// Loads `rs` (see above); returns failures of `extras` loaded one by one after the
    /// table when they could not go in with it. Throws when the table was not loaded.
    /// `full`: never a delta (the table was edited outside gatepeer: the cache does not
    /// say what it holds).
    func loadFilter(_ rs: NftRuleset, observed: ObservedFilter?, extras: [NftElement], cache: MapCache?, full: Bool = false) throws -> [KernelError] {
        let nf = try NetlinkSocket(bus: NETLINK_NETFILTER)
        if !full, let o = observed, o.skeleton == rs.skeletonFingerprint, let old = o.fingerprint,
           let previous = cache?.load(), previous.fingerprint == old, previous.maps.map(\.name) == rs.maps.map(\.name),
           Kernel.deltaFits(previous, o) {
            var b = NftBatch(firstSequence: nf.takeSequence())
            for (new, before) in zip(rs.maps, previous.maps) {
                let (remove, add) = new.delta(from: before)
                b.intervalElements(table: NftRuleset.table, map: new.name, remove, add: false)
                b.intervalElements(table: NftRuleset.table, map: new.name, add, add: true)
            }
            b.begin(NFT_MSG_DELOBJ, what: "counter fp_\(old)")
            b.attr(UInt16(NFTA_OBJ_TABLE.rawValue), string: NftRuleset.table)
            b.attr(UInt16(NFTA_OBJ_NAME.rawValue), string: "fp_\(old)")
            b.attr(UInt16(NFTA_OBJ_TYPE.rawValue), be32: Kernel.counterType)
            b.end()
            b.counter(table: NftRuleset.table, name: "fp_\(rs.fingerprint)")
            b.finish()
            // Refused (the kernel does not hold what the cache says, say): load in full.
            let delta = try ownCommit(nf, update: { $0?.loaded(rs) }) { try nf.send(b) }
            if delta.isEmpty {
                cache?.store(LoadedMaps(fingerprint: rs.fingerprint, maps: rs.maps))
                return []
            }
        }
        cache?.remove()

        // The skeleton, in a dormant staging table; extras inline in their sets.
        let deferred = try stage(rs, extras: extras)
        var failures: [KernelError]
        do {
            let staged = try readTable(nf, NftRuleset.stagingTable, staging: true)
            // What the live copy must read back as (Planner.contentDrift compares), kept in
            // the table itself and committed with it.
            let content = Kernel.content(of: staged)
            let digest = content.digest(excluding: Set(rs.maps.map(\.name)))
            var b = NftBatch(firstSequence: nf.takeSequence())
            let live = NftRuleset.table
            if observed != nil {
                b.begin(NFT_MSG_DELTABLE, what: "delete table inet \(live)")
                b.attr(UInt16(NFTA_TABLE_NAME.rawValue), string: live)
                b.end()
            }
            b.begin(NFT_MSG_NEWTABLE, flags: NLM_F_CREATE, what: "table inet \(live)")
            b.attr(UInt16(NFTA_TABLE_NAME.rawValue), string: live)
            b.attr(UInt16(NFTA_TABLE_FLAGS.rawValue), be32: 0)
            b.end()
            for o in staged.objects {
                b.copy(o, as: NFT_MSG_NEWOBJ, into: live, flags: NLM_F_CREATE, keep: Kernel.objectKeep)
            }
            b.counter(table: live, name: "fk_\(digest)")
            for (k, s) in staged.sets.enumerated() {
                b.copy(s, as: NFT_MSG_NEWSET, into: live, flags: NLM_F_CREATE, keep: Kernel.setKeep) {
                    $0.attr(UInt16(NFTA_SET_ID.rawValue), be32: UInt32(k + 1))
                }
            }
            for c in staged.chains {
                b.copy(c, as: NFT_MSG_NEWCHAIN, into: live, flags: NLM_F_CREATE, keep: Kernel.chainKeep)
            }
            for e in staged.elements {
                b.copy(e, as: NFT_MSG_NEWSETELEM, into: live, flags: NLM_F_CREATE, keep: Kernel.elementListKeep)
            }
            for m in rs.maps {
                b.intervalElements(table: live, map: m.name, m.intervals, add: true)
            }
            for r in staged.rules {
                b.copy(r, as: NFT_MSG_NEWRULE, into: live, flags: NLM_F_CREATE | NLM_F_APPEND, keep: Kernel.ruleKeep)
            }
            b.begin(NFT_MSG_DELTABLE, what: "delete table inet \(NftRuleset.stagingTable)")
            b.attr(UInt16(NFTA_TABLE_NAME.rawValue), string: NftRuleset.stagingTable)
            b.end()
            b.finish()
            let read = filterReadCache.map { FilterReadCache.Entry(key: $0.key, generation: 0, content: content, mapsAsLoaded: nil) }
            failures = try ownCommit(nf, update: { _ in read?.loaded(rs) }) { try nf.send(b) }
        } catch {
            dropStaging(nf)
            throw error
        }
        if let first = failures.first {
            dropStaging(nf)
            throw KernelError(object: "load table inet gatepeer: \(first.object)", errno: first.errno,
                              kernelMessage: ([first.kernelMessage].compactMap { $0 } + failures.dropFirst().map(\.description)).joined(separator: "; "))
        }
        cache?.store(LoadedMaps(fingerprint: rs.fingerprint, maps: rs.maps))
        return deferred.isEmpty ? [] : try loadElements(deferred)
    }

    /// Whether the table is what gatepeer loaded, as far as the observation knows, so that
    /// an element delta on top of it is enough: otherwise a delta would carry an edit made
    /// outside gatepeer along (a flushed chain, an element deleted by hand) and record the
    /// maps as loaded. The content digest must be the one stored at the load (fk_), and
    /// the maps must hold what the map cache says: known when nothing was committed since
    /// gatepeer's own commit (maps as loaded) or from a full read (element digests). Not
    /// read at all: the delta's own refusals are the check.
    static func deltaFits(_ previous: LoadedMaps, _ o: ObservedFilter) -> Bool {
        guard let c = o.content else { return true }
        if o.loadedContent != c.digest(excluding: Set(previous.maps.map(\.name))) { return false }
        if o.mapsAsLoaded == previous.fingerprint { return true }
        return previous.maps.allSatisfy { c.elements[$0.name] == $0.elementDigest }
    }

    /// Deletes table inet gatepeer (and a staging table left by an interrupted load).
    func deleteFilter(observed: ObservedFilter?, cache: MapCache?) throws {
        cache?.remove()
        let nf = try NetlinkSocket(bus: NETLINK_NETFILTER)
        dropStaging(nf)
        guard observed != nil else { return }
        var b = NftBatch(firstSequence: nf.takeSequence())
        b.begin(NFT_MSG_DELTABLE, what: "delete table inet \(NftRuleset.table)")
        b.attr(UInt16(NFTA_TABLE_NAME.rawValue), string: NftRuleset.table)
        b.end()
        b.finish()
        if let e = try nf.send(b).first, e.errno != ENOENT { throw e }
    }

    /// Deletes a staging table left by an interrupted load (Plan.Change.deleteStaging).
    func deleteStaging() throws {
        dropStaging(try NetlinkSocket(bus: NETLINK_NETFILTER))
    }

    private func dropStaging(_ nf: NetlinkSocket) {
        var b = NftBatch(firstSequence: nf.takeSequence())
        b.begin(NFT_MSG_DELTABLE, what: "delete table inet \(NftRuleset.stagingTable)")
        b.attr(UInt16(NFTA_TABLE_NAME.rawValue), string: NftRuleset.stagingTable)
        b.end()
        b.finish()
        _ = try? nf.send(b)
    }

    struct Staged {
        var objects: [NftObject] = []
        var sets: [NftObject] = []
        var chains: [NftObject] = []
        var elements: [NftObject] = []
        var rules: [NftObject] = []
    }

    /// A table's objects, sets (with their elements), chains and rules. `staging`: the
    /// staging table, whose copy must not hold anonymous sets (refused); the live table
    /// is read as it is, whatever someone added to it.
    func readTable(_ nf: NetlinkSocket, _ table: String, staging: Bool) throws -> Staged {
        var s = Staged()
        s.objects = try dumpObjects(nf, table)
        s.sets = try dumpKind(nf, table, NFT_MSG_GETSET, NFT_MSG_NEWSET, kind: "set", tableAttr: Int(NFTA_SET_TABLE.rawValue), nameAttr: UInt16(NFTA_SET_NAME.rawValue))
        s.chains = try dumpKind(nf, table, NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, kind: "chain", tableAttr: nil, nameAttr: UInt16(NFTA_CHAIN_NAME.rawValue))
        s.rules = try dumpKind(nf, table, NFT_MSG_GETRULE, NFT_MSG_NEWRULE, kind: "rule in chain", tableAttr: Int(NFTA_RULE_TABLE.rawValue), nameAttr: UInt16(NFTA_RULE_CHAIN.rawValue))
        for set in s.sets {
            // Anonymous sets get kernel-chosen names and are bound by id; the renderer
            // only makes named ones, and a copy of an anonymous one would be wrong.
            if staging, let flags = set.u32(UInt16(NFTA_SET_FLAGS.rawValue)), flags & UInt32(NFT_SET_ANONYMOUS.rawValue) != 0 {
                throw KernelError(object: "staging set \(set.name)", errno: EINVAL, kernelMessage: "anonymous sets cannot be copied; render named sets")
            }
            s.elements += try dumpElements(nf, table, set: set.name)
        }
        return s
    }

    func dumpObjects(_ nf: NetlinkSocket, _ table: String) throws -> [NftObject] {
        try dumpKind(nf, table, NFT_MSG_GETOBJ, NFT_MSG_NEWOBJ, kind: "counter", tableAttr: Int(NFTA_OBJ_TABLE.rawValue), nameAttr: UInt16(NFTA_OBJ_NAME.rawValue))
    }

    /// The element messages of one set (each NFTA_SET_ELEM_LIST_ELEMENTS holds many).
    func dumpElements(_ nf: NetlinkSocket, _ table: String, set: String) throws -> [NftObject] {
        try dumpKind(nf, table, NFT_MSG_GETSETELEM, NFT_MSG_NEWSETELEM, kind: "elements of set", tableAttr: Int(NFTA_SET_ELEM_LIST_TABLE.rawValue),
                     nameAttr: UInt16(NFTA_SET_ELEM_LIST_SET.rawValue), extra: { $0.putString(Int(NFTA_SET_ELEM_LIST_SET.rawValue), set) })
            .filter { $0.attributes.contains { $0.0 == UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue) } }
    }

    /// One nf_tables dump of `table`'s objects of one kind, as raw attributes.
    private func dumpKind(_ nf: NetlinkSocket, _ table: String, _ get: nf_tables_msg_types, _ reply: nf_tables_msg_types, kind: String,
                          tableAttr: Int?, nameAttr: UInt16, extra: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in }) throws -> [NftObject] {
        try nf.dump(type: Int(NFNL_SUBSYS_NFTABLES) << 8 | Int(get.rawValue), family: NftBatch.family,
                    headerSize: MemoryLayout<nfgenmsg>.size, what: "\(table) \(kind)s", attributes: { nlh in
            if let t = tableAttr { nlh.putString(t, table) }
            extra(nlh)
        }, parse: { m in
            guard Int(m.pointee.nlmsg_type) & 0xff == Int(reply.rawValue) else { return nil }
            let o = NftObject(m, kind: kind, nameType: nameAttr)
            // Every *_TABLE attribute is type 1; dumps without a table filter list all tables.
            guard let t = o.attributes.first(where: { $0.0 == 1 })?.1, String(decoding: t.prefix { $0 != 0 }, as: UTF8.self) == table else { return nil }
            return o
        })
    }
}

/// The copy of the destination maps last loaded (LoadedMaps), in the state directory.
/// Best effort: without it the next change is a full load.
public final class MapCache {
    public let path: String

    public init(directory: String) {
        path = directory + "/filter-maps.bin"
    }

    func load() -> LoadedMaps? {
        guard let bytes = Files.readAll(path), !bytes.isEmpty else { return nil }
        return LoadedMaps.decode(bytes)
    }

    /// Written to a 0600 temporary and renamed over; not synced: a copy lost in a crash
    /// only costs one full load (its checksum and fingerprint are checked on use).
    func store(_ maps: LoadedMaps) {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { mkdir(dir, 0o700) }
        _ = Files.replace(path, with: maps.encode(), mode: 0o600, sync: false)
    }

    func remove() { unlink(path) }
}
