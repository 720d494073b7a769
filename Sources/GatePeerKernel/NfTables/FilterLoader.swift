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
///   back over netlink. A first load is one nf_tables transaction that creates the
///   table from the staging copy, adds the destination maps' elements raw and deletes
///   the staging table. A reload swaps through the staging table in three (Kernel.swap):
///   no rule goes live in the transaction that fills the sets it looks up. Packets meet
///   the old policy, the new one or both, never a mix and never empty maps.
/// - Delta: when the kernel's skeleton fingerprint equals ours and the map cache holds
///   what is loaded, one transaction deletes and adds only the elements that differ and
///   swaps the fingerprint counter. Unchanged elements keep their counters.
extension Kernel {
    static let counterType = UInt32(1)  // NFT_OBJECT_COUNTER

    /// Builds the skeleton in the staging table with `extras` inline; if nft refuses them
    /// (an element that no longer fits, say), without. Returns the extras still to load.
    /// nft's refusal becomes a KernelError (without errno) so it joins apply's failures.
    private func stage(_ rs: NftRuleset, extras: [NftElement]) throws -> [NftElement] {
        do {
            if let text = rs.stagingTransaction(extras: extras), (try? nft.run(text, what: "nftables staging table")) != nil {
                return []
            }
            try nft.run(rs.stagingTransaction(extras: [])!, what: "nftables staging table")
        } catch let e as NftablesError { throw KernelError(e) }
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
                b.intervalElements(table: NftNames.table, map: new.name, remove, add: false)
                b.intervalElements(table: NftNames.table, map: new.name, add, add: true)
            }
            let oldCounter = NftNames.Metadata.fingerprint.counter(old)
            b.begin(NFT_MSG_DELOBJ, what: "counter \(oldCounter)")
            b.attr(NftObjectAttribute.table, string: NftNames.table)
            b.attr(NftObjectAttribute.name, string: oldCounter)
            b.attr(NftObjectAttribute.type, be32: Kernel.counterType)
            b.end()
            b.counter(table: NftNames.table, name: NftNames.Metadata.fingerprint.counter(rs.fingerprint))
            b.finish()
            // Refused (the kernel does not hold what the cache says, say): load in full.
            let delta = try ownCommit(nf, update: { $0?.loaded(rs) }) { try nf.send(b) }
            if delta.isEmpty {
                cache?.store(LoadedMaps(fingerprint: rs.fingerprint, maps: rs.maps))
                return []
            }
        }
        cache?.remove()

        // A staging table still enforcing after an interrupted swap holds the policy
        // while the live table sleeps: wake the live one before the staging goes.
        dropStaging(nf)
        // The skeleton, in a dormant staging table; extras inline in their sets.
        let deferred = try stage(rs, extras: extras)
        var failures: [KernelError]
        do {
            let staged = try readTable(nf, NftNames.stagingTable, staging: true)
            // What the live copy must read back as (Planner.contentDrift compares), kept in
            // the table itself and committed with it.
            let content = Kernel.content(of: staged)
            let digest = content.digest(excluding: Set(rs.maps.map(\.name)))
            let read = filterReadCache.map { FilterReadCache.Entry(key: $0.key, generation: 0, content: content, mapsAsLoaded: nil) }
            if observed == nil {
                // Nothing enforces yet: one transaction.
                var b = NftBatch(firstSequence: nf.takeSequence())
                b.copyTable(staged, maps: rs.maps, digest: digest, dormant: false)
                b.deleteTable(NftNames.stagingTable)
                b.finish()
                failures = try ownCommit(nf, update: { _ in read?.loaded(rs) }) { try nf.send(b) }
            } else {
                failures = try swap(nf, staged, rs, digest: digest, read: read)
            }
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

    /// Replaces a live table without a window. The kernel makes a transaction's rules
    /// visible to packets (the generation flip) before it publishes the lookup copies of
    /// the sets the transaction filled: interval sets (rbtree, an array built at commit)
    /// and concatenated ones (pipapo) answer "no match" for every key until the end of
    /// the commit, which with 100,000 elements takes tens of milliseconds; a new flow
    /// then falls through the empty destination map to the deny (nf_tables_commit:
    /// nft_set_commit_update runs after the walk over the transaction). So no rule may
    /// go live in the transaction that creates the sets it looks up:
    ///
    /// 1. fill the dormant staging table's destination maps;
    /// 2. wake the staging table (its hooks register at once, so old and new policy both
    ///    hold until the flip), delete the live table, create it again dormant, full;
    /// 3. wake the live table (both hold the new policy), delete the staging table.
    ///
    /// Every packet meets the old policy, the new one, or both. Stopped after 2, the
    /// staging table enforces the new policy and the live one sleeps: fail closed;
    /// dropStaging (every load starts with it) and the planner (a dormant table is
    /// drift) finish the swap. Returns the failures of the first transaction refused
    /// (the ones after it are not sent).
    private func swap(_ nf: NetlinkSocket, _ staged: Staged, _ rs: NftRuleset, digest: String,
                      read: FilterReadCache.Entry?) throws -> [KernelError] {
        let stage = NftNames.stagingTable, live = NftNames.table
        var fill = NftBatch(firstSequence: nf.takeSequence())
        for m in rs.maps {
            fill.intervalElements(table: stage, map: m.name, m.intervals, add: true)
        }
        fill.finish()
        let filled = try nf.send(fill)
        if !filled.isEmpty { return filled }

        var b = NftBatch(firstSequence: nf.takeSequence())
        b.table(stage, dormant: false, create: false)
        b.deleteTable(live)
        b.copyTable(staged, maps: rs.maps, digest: digest, dormant: true)
        b.finish()
        let rebuilt = try nf.send(b)
        if !rebuilt.isEmpty { return rebuilt }

        var wake = NftBatch(firstSequence: nf.takeSequence())
        wake.table(live, dormant: false, create: false)
        wake.deleteTable(stage)
        wake.finish()
        return try ownCommit(nf, update: { _ in read?.loaded(rs) }) { try nf.send(wake) }
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
        b.deleteTable(NftNames.table)
        b.finish()
        if let e = try nf.send(b).first, e.errno != ENOENT { throw e }
    }

    /// Deletes a staging table left by an interrupted load (Plan.Change.deleteStaging).
    func deleteStaging() throws {
        dropStaging(try NetlinkSocket(bus: NETLINK_NETFILTER))
    }

    /// Deletes the staging table; wakes the live table first when a swap stopped after
    /// step 2 (Kernel.swap) left it dormant, in the same transaction, so the policy never
    /// lapses. Best effort: what it could not do, the next plan sees.
    private func dropStaging(_ nf: NetlinkSocket) {
        guard let tables = try? Kernel.tableFlags(nf) else { return }
        var b = NftBatch(firstSequence: nf.takeSequence())
        if let f = tables[NftNames.table], f & NftTableFlag.dormant != 0 {
            b.table(NftNames.table, dormant: false, create: false)
        }
        if tables[NftNames.stagingTable] != nil { b.deleteTable(NftNames.stagingTable) }
        guard b.messageCount > 0 else { return }
        b.finish()
        _ = try? nf.send(b)
    }

    /// The inet tables of the namespace by name, with their flags (NFTA_TABLE_FLAGS).
    static func tableFlags(_ nf: NetlinkSocket) throws -> [String: UInt32] {
        let tables = try nf.dump(type: Int(NftBatch.messageType(NFT_MSG_GETTABLE)), family: NftBatch.family,
                                 headerSize: MemoryLayout<nfgenmsg>.size, what: "nftables tables", parse: { m -> (String, UInt32)? in
            guard NftBatch.isReply(m, NFT_MSG_NEWTABLE) else { return nil }
            let a = NetlinkAttributes(message: m, headerSize: MemoryLayout<nfgenmsg>.size)
            guard let name = a.string(NftTableAttribute.name) else { return nil }
            return (name, a.u32(NftTableAttribute.flags).map { UInt32(bigEndian: $0) } ?? 0)
        })
        return Dictionary(tables, uniquingKeysWith: { a, _ in a })
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
        s.sets = try dumpKind(nf, table, NFT_MSG_GETSET, NFT_MSG_NEWSET, kind: "set", tableAttr: NftSetAttribute.table, nameAttr: NftSetAttribute.name)
        s.chains = try dumpKind(nf, table, NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, kind: "chain", tableAttr: nil, nameAttr: NftChainAttribute.name)
        s.rules = try dumpKind(nf, table, NFT_MSG_GETRULE, NFT_MSG_NEWRULE, kind: "rule in chain", tableAttr: NftRuleAttribute.table, nameAttr: NftRuleAttribute.chain)
        for set in s.sets {
            // Anonymous sets get kernel-chosen names and are bound by id; the renderer
            // only makes named ones, and a copy of an anonymous one would be wrong.
            if staging, let flags = set.u32(NftSetAttribute.flags), flags & NftSetFlagBits.anonymous != 0 {
                throw KernelError(object: "staging set \(set.name)", errno: EINVAL, kernelMessage: "anonymous sets cannot be copied; render named sets")
            }
            s.elements += try dumpElements(nf, table, set: set.name)
        }
        return s
    }

    func dumpObjects(_ nf: NetlinkSocket, _ table: String) throws -> [NftObject] {
        try dumpKind(nf, table, NFT_MSG_GETOBJ, NFT_MSG_NEWOBJ, kind: "counter", tableAttr: NftObjectAttribute.table, nameAttr: NftObjectAttribute.name)
    }

    /// The element messages of one set (each NFTA_SET_ELEM_LIST_ELEMENTS holds many).
    func dumpElements(_ nf: NetlinkSocket, _ table: String, set: String) throws -> [NftObject] {
        try dumpKind(nf, table, NFT_MSG_GETSETELEM, NFT_MSG_NEWSETELEM, kind: "elements of set", tableAttr: NftElementListAttribute.table,
                     nameAttr: NftElementListAttribute.set, extra: { $0.attribute(NftElementListAttribute.set, string: set) })
            .filter { $0.attributes.contains { $0.0 == NftElementListAttribute.elements } }
    }

    /// One nf_tables dump of `table`'s objects of one kind, as raw attributes.
    private func dumpKind(_ nf: NetlinkSocket, _ table: String, _ get: nf_tables_msg_types, _ reply: nf_tables_msg_types, kind: String,
                          tableAttr: UInt16?, nameAttr: UInt16, extra: (inout NetlinkWriter) -> Void = { _ in }) throws -> [NftObject] {
        try nf.dump(type: Int(NftBatch.messageType(get)), family: NftBatch.family,
                    headerSize: MemoryLayout<nfgenmsg>.size, what: "\(table) \(kind)s", attributes: { w in
            if let t = tableAttr { w.attribute(t, string: table) }
            extra(&w)
        }, parse: { m in
            guard NftBatch.isReply(m, reply) else { return nil }
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
    /// `DIR/filter-maps.bin` in the state directory.
    public let path: String

    /// `directory`: the state directory; the file is made on the first store.
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
        MapCache.storeCache(path, maps.encode())
    }

    /// Writes a cache file of the state directory (made 0700 if missing): a 0600
    /// temporary renamed over, not synced. A write that fails or would pass the read
    /// limit (Files.stateLimit) leaves no file rather than a stale one: a cache only
    /// saves work, and its users check what they read.
    static func storeCache(_ path: String, _ bytes: [UInt8]) {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { mkdir(dir, 0o700) }
        if Files.replace(path, with: bytes, mode: 0o600, sync: false, limit: Files.stateLimit) != nil { unlink(path) }
    }

    func remove() { unlink(path) }
}
