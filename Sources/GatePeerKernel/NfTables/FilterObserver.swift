import CNetlink
import GatePeerCore
import Glibc

/// Reading table inet gatepeer back over netlink: the counters (verdict counts, the
/// fp_/fs_/fk_ names), and the content (FilterContent): chains, rules, sets, objects and
/// every set's elements, dumped per kind and per set with nf_tables GET requests. No
/// libnftables listing: it would first load every table's elements into its cache.
extension Kernel {
    /// The attributes a copy keeps (NftBatch.copy) and the content digest covers, per
    /// object kind: what decides traffic, none of the read-only ones (handles, use
    /// counts) a request may not carry.
    static let objectKeep: Set<UInt16> = [NftObjectAttribute.name, NftObjectAttribute.type, NftObjectAttribute.data, NftObjectAttribute.userdata]
    static let setKeep: Set<UInt16> = [NftSetAttribute.name, NftSetAttribute.flags, NftSetAttribute.keyType, NftSetAttribute.keyLength, NftSetAttribute.dataType, NftSetAttribute.dataLength,
                                            NftSetAttribute.policy, NftSetAttribute.desc, NftSetAttribute.timeout, NftSetAttribute.gcInterval, NftSetAttribute.userdata,
                                            NftSetAttribute.objectType, NftSetAttribute.expression, NftSetAttribute.expressions]
    static let chainKeep: Set<UInt16> = [NftChainAttribute.name, NftChainAttribute.hook, NftChainAttribute.policy, NftChainAttribute.type, NftChainAttribute.userdata]
    static let ruleKeep: Set<UInt16> = [NftRuleAttribute.chain, NftRuleAttribute.expressions, NftRuleAttribute.userdata, NftRuleAttribute.compat]
    static let elementListKeep: Set<UInt16> = [NftElementListAttribute.set, NftElementListAttribute.elements]

    /// Table inet gatepeer (nil when absent) and whether a staging table was left behind.
    /// The content is read in full only when the namespace's nf_tables generation moved
    /// since gatepeer last loaded or read it (FilterReadCache); otherwise only the
    /// counters and the sets with timeouts are dumped.
    public func observeFilterTables() throws -> (filter: ObservedFilter?, staging: Bool) {
        let nf = try NetlinkSocket(bus: NETLINK_NETFILTER)
        let generation = try? Kernel.generation(nf)
        let tables = try Kernel.tableFlags(nf)
        let staging = tables[NftNames.stagingTable] != nil
        guard let flags = tables[NftNames.table] else { return (nil, staging) }
        var dumped = Staged()
        var f = ObservedFilter(fingerprint: nil, counters: [:])
        f.dormant = flags & NftTableFlag.dormant != 0
        do {
            if let cache = filterReadCache, let g = generation, let e = cache.load(), e.key == cache.key, e.generation == g {
                // Nothing was committed since: the table is what was recorded, but for
                // the elements of sets with timeouts (they expire without a commit).
                dumped.objects = try dumpObjects(nf, NftNames.table)
                var content = e.content
                for set in content.dynamic.keys {
                    dumped.elements += try dumpElements(nf, NftNames.table, set: set)
                }
                content.dynamic = Kernel.content(of: dumped, dynamicSets: Set(content.dynamic.keys)).dynamic
                f.content = content
                f.mapsAsLoaded = e.mapsAsLoaded
            } else {
                dumped = try readTable(nf, NftNames.table, staging: false)
                f.content = Kernel.content(of: dumped)
                if let cache = filterReadCache, let g = generation, let content = f.content, (try? Kernel.generation(nf)) == g {
                    cache.store(FilterReadCache.Entry(key: cache.key, generation: g, content: content, mapsAsLoaded: nil))
                }
            }
        } catch let e as KernelError where e.errno == ENOENT {
            return (nil, staging)  // deleted between the two dumps
        }
        Kernel.readCounters(dumped.objects, into: &f)
        return (f, staging)
    }

    /// The fingerprints and counters of `objects` (an object dump of our table).
    static func readCounters(_ objects: [NftObject], into f: inout ObservedFilter) {
        var counters: [String: PacketCount] = [:]
        for o in objects where o.u32(NftObjectAttribute.type) == Kernel.counterType {
            switch NftNames.Metadata.parse(o.name) {
            case (.fingerprint, let v)?: f.fingerprint = v; continue
            case (.skeleton, let v)?: f.skeleton = v; continue
            case (.content, let v)?: f.loadedContent = v; continue
            case nil: break
            }
            let d = o.attributes.first { $0.0 == NftObjectAttribute.data }?.1 ?? []
            func be64(_ t: UInt16) -> UInt64 {
                guard let a = netlinkAttributes(d, in: 0..<d.count).first(where: { $0.type == t }), a.payload.count >= 8 else { return 0 }
                return d[a.payload].prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
            counters[o.name] = PacketCount(packets: be64(NftCounterAttribute.packets), bytes: be64(NftCounterAttribute.bytes))
        }
        f.counters = counters
    }

    /// Named counters of table inet gatepeer (fingerprints included), content not read;
    /// nil when the table is absent. One object dump: what a grant needs to know.
    public func observeFilter() throws -> ObservedFilter? {
        let nf = try NetlinkSocket(bus: NETLINK_NETFILTER)
        let objects: [NftObject]
        do { objects = try dumpObjects(nf, NftNames.table) } catch let e as KernelError where e.errno == ENOENT { return nil }
        // Our table always holds counters; none means no table.
        if objects.isEmpty { return nil }
        var f = ObservedFilter(fingerprint: nil, counters: [:])
        Kernel.readCounters(objects, into: &f)
        return f
    }

    /// The namespace's nf_tables generation (NFTA_GEN_ID): every commit, by anyone, moves it.
    static func generation(_ nf: NetlinkSocket) throws -> UInt32 {
        let ids = try nf.dump(type: Int(NftBatch.messageType(NFT_MSG_GETGEN)), family: UInt8(AF_UNSPEC),
                              headerSize: MemoryLayout<nfgenmsg>.size, what: "nftables generation", single: true, parse: { m -> UInt32? in
            guard NftBatch.isReply(m, NFT_MSG_NEWGEN) else { return nil }
            return NetlinkAttributes(message: m, headerSize: MemoryLayout<nfgenmsg>.size).u32(NftGenerationAttribute.id).map { UInt32(bigEndian: $0) }
        })
        guard let id = ids.first else { throw KernelError(object: "nftables generation", errno: ENODATA) }
        return id
    }

    /// Runs one of gatepeer's own nf_tables transactions and keeps the read cache true:
    /// when the generation moved by exactly one (this commit, nobody else's), `update`
    /// turns the entry that was valid before (nil if none) into the one valid after; when
    /// it did not move (refused), the cache stays; otherwise it goes.
    func ownCommit(_ nf: NetlinkSocket, update: (FilterReadCache.Entry?) -> FilterReadCache.Entry?,
                   _ send: () throws -> [KernelError]) throws -> [KernelError] {
        guard let cache = filterReadCache else { return try send() }
        let before = try? Kernel.generation(nf)
        let failures = try send()
        let after = try? Kernel.generation(nf)
        guard let b = before, let a = after, a != b else { return failures }
        let valid = cache.load().flatMap { $0.key == cache.key && $0.generation == b ? $0 : nil }
        // The kernel skips generation 0 when it wraps.
        if failures.isEmpty, a == (b &+ 1 == 0 ? 1 : b &+ 1), var e = update(valid) {
            e.generation = a
            cache.store(e)
        } else {
            cache.remove()
        }
        return failures
    }

    func ownCommit(_ nf: NetlinkSocket, _ send: () throws -> [KernelError]) throws -> [KernelError] {
        try ownCommit(nf, update: { $0 }, send)
    }

    /// The content digest of a dumped table (the staging table at a load, the live one
    /// at every observe): both go through this one function, so what was sent and what
    /// is read back digest the same.
    ///
    /// Normalised: the `keep` attributes only; objects sorted by name, counters by name
    /// and type (their values move), the fp_/fs_/fk_ names left out (the delta path swaps
    /// fp_, and fk_ cannot hold its own digest); chains and sets sorted by name; rules in
    /// chain order, a `counter` expression's values left out. Elements are hashed one by
    /// one and summed per set (dump order differs between tables).
    /// `dynamicSets`: the sets with timeouts when `t` holds only their elements (a read
    /// that found the generation unchanged); nil: from the sets' flags.
    static func content(of t: Staged, dynamicSets known: Set<String>? = nil) -> FilterContent {
        var s: [UInt8] = []
        func put(_ tag: UInt8, _ o: NftObject, _ keep: Set<UInt16>, rule: Bool = false) {
            s.append(tag)
            for (type, payload) in o.attributes where keep.contains(type) {
                s.append(UInt8(type & 0xff)); s.append(UInt8(type >> 8))
                let p = rule && type == NftRuleAttribute.expressions ? NftExpressions.withoutCounterValues(payload) : payload
                let n = UInt32(p.count)
                s += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
                s += p
            }
        }
        for o in t.objects.sorted(by: { $0.name < $1.name }) {
            let isCounter = o.u32(NftObjectAttribute.type) == counterType
            if isCounter && NftNames.Metadata.parse(o.name) != nil { continue }
            put(1, o, isCounter ? [NftObjectAttribute.name, NftObjectAttribute.type] : objectKeep)
        }
        var dynamicSets = known ?? Set<String>()
        for o in t.sets.sorted(by: { $0.name < $1.name }) {
            put(2, o, setKeep)
            if let flags = o.u32(NftSetAttribute.flags), flags & NftSetFlagBits.timeout != 0 { dynamicSets.insert(o.name) }
        }
        for o in t.chains.sorted(by: { $0.name < $1.name }) { put(3, o, chainKeep) }
        var rules: [String: Int] = [:]
        for c in t.chains { rules[c.name] = 0 }
        for chain in rules.keys.sorted() {
            for r in t.rules where r.name == chain {
                put(4, r, ruleKeep, rule: true)
                rules[chain, default: 0] += 1
            }
        }
        var elements: [String: FilterContent.SetElements] = [:]
        var dynamic: [String: [ObservedElement]] = [:]
        for set in t.sets where !dynamicSets.contains(set.name) { elements[set.name] = FilterContent.SetElements() }
        for set in dynamicSets { dynamic[set] = [] }
        for m in t.elements {
            let set = m.name
            guard let list = m.attributes.first(where: { $0.0 == NftElementListAttribute.elements })?.1 else { continue }
            if dynamicSets.contains(set) {
                forEachNetlinkAttribute(list, in: 0..<list.count) { _, _, item in
                    let e = ElementFields(list, item)
                    dynamic[set, default: []].append(ObservedElement(set: set, key: Array(list[e.key]), keyEnd: Array(list[e.keyEnd]),
                                                                    gotoChain: e.verdict == NftElementHash.gotoCode ? String(decoding: list[e.chain], as: UTF8.self) : nil,
                                                                    expiresMs: e.expiresMs))
                }
                continue
            }
            var digest = elements[set, default: FilterContent.SetElements()]
            list.withUnsafeBufferPointer { p in
                forEachNetlinkAttribute(list, in: 0..<list.count) { _, _, item in
                    let e = ElementFields(list, item)
                    digest.add(NftElementHash.of(key: p[e.key], keyEnd: p[e.keyEnd], flags: e.flags, verdict: e.verdict, chain: p[e.chain],
                                                 data: e.data.isEmpty ? [] : Array(p[e.data.first!]) + Array(p[e.data.last!])))
                }
            }
            elements[set] = digest
        }
        return FilterContent(structure: NftRenderer.hex(fnv1a64(s)), elements: elements, rules: rules, dynamic: dynamic)
    }
}

/// The fields of one dumped set element (NFTA_LIST_ELEM) that decide traffic: key, key
/// end, flags, verdict (code and chain) or data value, user data; timeouts, expirations
/// and per-element counters are left out (they run).
struct ElementFields {
    /// Payload ranges in the dumped buffer (empty when absent).
    var key = 0..<0, keyEnd = 0..<0, chain = 0..<0
    /// User data and data value ranges; empty for the destination maps' elements.
    var data: [Range<Int>] = []
    var flags: UInt32 = 0
    var verdict: Int32? = nil
    /// NFTA_SET_ELEM_EXPIRATION (ms left), kept apart from the fields above: only the
    /// dynamic elements carry it, so a reload from what the kernel held keeps deadlines.
    var expiresMs: Int64? = nil

    init(_ b: [UInt8], _ range: Range<Int>) {
        var userdata = 0..<0, value = 0..<0
        func dataValue(_ r: Range<Int>) -> Range<Int> {
            var v = 0..<0
            forEachNetlinkAttribute(b, in: r) { t, _, p in if t == NftDataAttribute.value { v = p } }
            return v
        }
        func be32(_ r: Range<Int>) -> UInt32 {
            r.count >= 4 ? UInt32(b[r.lowerBound]) << 24 | UInt32(b[r.lowerBound + 1]) << 16 | UInt32(b[r.lowerBound + 2]) << 8 | UInt32(b[r.lowerBound + 3]) : 0
        }
        forEachNetlinkAttribute(b, in: range) { type, _, payload in
            switch type {
            case NftElementAttribute.key: key = dataValue(payload)
            case NftElementAttribute.keyEnd: keyEnd = dataValue(payload)
            case NftElementAttribute.flags: flags = be32(payload)
            case NftElementAttribute.expiration where payload.count >= 8:
                expiresMs = Int64(bitPattern: UInt64(be32(payload)) << 32 | UInt64(be32(payload.lowerBound + 4..<payload.upperBound)))
            case NftElementAttribute.userdata, NftElementAttribute.objectReference: userdata = payload
            case NftElementAttribute.data:
                forEachNetlinkAttribute(b, in: payload) { t, _, d in
                    if t == NftDataAttribute.value { value = d }
                    guard t == NftDataAttribute.verdict else { return }
                    forEachNetlinkAttribute(b, in: d) { vt, _, v in
                        if vt == NftDataAttribute.verdictCode { verdict = Int32(bitPattern: be32(v)) }
                        if vt == NftDataAttribute.verdictChain { chain = v.lowerBound..<(b[v].firstIndex(of: 0) ?? v.upperBound) }
                    }
                }
            default: break
            }
        }
        if !userdata.isEmpty || !value.isEmpty { data = [userdata, value] }
    }
}

extension NftExpressions {
    /// A rule's expressions with each `counter` expression's data dropped: its packet and
    /// byte values move with traffic and would make every read differ.
    static func withoutCounterValues(_ list: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for elem in netlinkAttributes(list, in: 0..<list.count) {
            let parts = netlinkAttributes(list, in: elem.payload)
            let name = parts.first { $0.type == NftExpressionAttribute.name }.map { list[$0.payload].prefix { $0 != 0 } }
            if let name, Array(name) == Array("counter".utf8) {
                out += Array("counter".utf8) + [0]
            } else {
                out += list[elem.payload]
            }
        }
        return out
    }
}

/// What gatepeer last loaded into or read from table inet gatepeer (FilterContent, the
/// elements of sets with timeouts left out), with the nf_tables generation it was true
/// at, in the state directory. Every commit in a network namespace moves its generation
/// (NFT_MSG_GETGEN), so while the generation is the recorded one the table holds exactly
/// that: a no-op plan then dumps only the counters and the sets with timeouts, not the
/// 200,000 elements of a 100,000-rule policy. Best effort: without it, or when anything
/// else committed, the table is read in full (and the read recorded).
public final class FilterReadCache {
    /// `DIR/filter-read.txt` in the state directory.
    public let path: String
    /// Boot and network namespace ("BOOT_ID/netns-COOKIE"): generations of other
    /// namespaces or boots say nothing. The namespace is named by its cookie, not its
    /// nsfs inode: a namespace deleted and made again (same name, same state directory)
    /// can get the old inode back, and a fresh table whose generation happens to equal
    /// the recorded one would then be trusted. Without a cookie (Linux before 5.14) the
    /// key is unique to this process, so only this process's own records are trusted.
    let key: String
    /// Whether this process may write the record now (the state store answers: only while
    /// it holds the namespace's writer lock); a reader uses the record but never writes it.
    public var mayRecord: () -> Bool = { true }

    /// `directory`: the state directory; the key is read from /proc (boot_id) and the
    /// namespace cookie (SO_NETNS_COOKIE) once, here.
    public init(directory: String) {
        path = directory + "/filter-read.txt"
        let boot = Sysctl.read(SysctlKey("kernel", "random", "boot_id")) ?? "-"
        key = boot + "/" + (FilterReadCache.networkNamespaceCookie().map { "netns-\($0)" }
            ?? "pid-\(getpid())-\(UInt64.random(in: 0 ... .max))")
    }

    /// SO_NETNS_COOKIE: the socket option (include/uapi/asm-generic/socket.h) that the
    /// C headers of older distributions do not name yet.
    static let soNetnsCookie: Int32 = 71

    /// The cookie of the calling thread's network namespace (getsockopt SO_NETNS_COOKIE
    /// on a throwaway UDP socket, Linux 5.14+): a 64-bit number unique to the namespace
    /// for the whole boot and never reused. nil when the kernel does not have it.
    public static func networkNamespaceCookie() -> UInt64? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var cookie: UInt64 = 0
        var len = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(fd, SOL_SOCKET, soNetnsCookie, &cookie, &len) == 0, len == MemoryLayout<UInt64>.size, cookie != 0 else { return nil }
        return cookie
    }

    struct Entry {
        var key: String
        var generation: UInt32
        /// Structure, fixed sets' element digests, rules per chain; the names of the sets
        /// with timeouts (their elements are read every time).
        var content: FilterContent
        /// The destination maps hold exactly what the load or delta of this fingerprint
        /// sent (their element digests are then not kept).
        var mapsAsLoaded: String?

        /// After a full load or a delta of `rs`.
        func loaded(_ rs: NftRuleset) -> Entry {
            var e = self
            for m in rs.maps { e.content.elements[m.name] = nil }
            e.mapsAsLoaded = rs.fingerprint
            return e
        }
    }

    func load() -> Entry? {
        guard let bytes = Files.readAll(path) else { return nil }
        var key: String?, gen: UInt32?, structure: String?, maps: String?
        var rules: [String: Int] = [:], elements: [String: FilterContent.SetElements] = [:], dynamic: [String: [ObservedElement]] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            switch (f.first, f.count) {
            case ("key", 2): key = f[1]
            case ("generation", 2): gen = UInt32(f[1])
            case ("maps", 2): maps = f[1] == "-" ? nil : f[1]
            case ("structure", 2): structure = f[1]
            case ("chain", 3): rules[f[1]] = Int(f[2])
            case ("set", 4): elements[f[1]] = UInt64(f[2], radix: 16).flatMap { d in Int(f[3]).map { FilterContent.SetElements(digest: d, count: $0) } }
            case ("dynamic", 2): dynamic[f[1]] = []
            default: return nil
            }
        }
        guard let key, let gen, let structure else { return nil }
        return Entry(key: key, generation: gen, content: FilterContent(structure: structure, elements: elements, rules: rules, dynamic: dynamic), mapsAsLoaded: maps)
    }

    /// Written to a 0600 temporary and renamed over, not synced: a lost or stale copy
    /// costs one full read (its generation no longer matches).
    func store(_ e: Entry) {
        guard mayRecord() else { return }
        var out = ["key \(e.key)", "generation \(e.generation)", "maps \(e.mapsAsLoaded ?? "-")", "structure \(e.content.structure)"]
        out += e.content.rules.sorted { $0.key < $1.key }.map { "chain \($0.key) \($0.value)" }
        out += e.content.elements.sorted { $0.key < $1.key }.map { "set \($0.key) \(String($0.value.digest, radix: 16)) \($0.value.count)" }
        out += e.content.dynamic.keys.sorted().map { "dynamic \($0)" }
        MapCache.storeCache(path, Array((out.joined(separator: "\n") + "\n").utf8))
    }

    func remove() { if mayRecord() { unlink(path) } }
}
