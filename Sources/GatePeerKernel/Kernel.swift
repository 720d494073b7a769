import CNetlink
import GatePeerCore
import Glibc

/// The only door to the kernel: dump what is there, carry out a plan. What to change is
/// the planner's decision (GatePeerCore); this type decides only how to carry it out:
/// where a batch ends, delta or full filter load, skipping the dependents of a link that
/// could not be created (docs/architecture.md, "Where decisions are made", lists each).
public final class Kernel {
    let socket: NetlinkSocket
    /// Created on first use: reading state goes through netlink, so most runs never
    /// need libnftables (its context costs a few milliseconds to set up).
    private var nftContext: Nftables?
    var nft: Nftables {
        get throws {
            if let n = nftContext { return n }
            let n = try Nftables()
            nftContext = n
            return n
        }
    }

    /// What gatepeer last read or loaded of table inet gatepeer, valid while the
    /// namespace's nf_tables generation stays put (see FilterReadCache); nil: always read
    /// the whole table.
    public var filterReadCache: FilterReadCache?

    /// Opens the rtnetlink socket every request and dump of this value uses; throws
    /// KernelError ("netlink socket", "netlink bind") when it cannot be opened or bound.
    public init() throws {
        socket = try NetlinkSocket()
    }

    // MARK: observe

    /// One dump of each object kind, plus the sysctls the planner asked for.
    public func observe(sysctls keys: [SysctlKey]) throws -> ObservedState {
        let links = try dumpLinks()
        let addrs = try socket.dump(type: Int(RtnetlinkMessage.getAddress), family: UInt8(AF_UNSPEC),
                                    headerSize: MemoryLayout<ifaddrmsg>.size, what: "addresses", parse: RtnetlinkCodec.parseAddress)
        let fdb = try socket.dump(type: Int(RtnetlinkMessage.getNeighbour), family: RtnetlinkCodec.familyBridge,
                                  headerSize: MemoryLayout<ndmsg>.size, what: "fdb", parse: RtnetlinkCodec.parseFDB)
        let routes = try socket.dump(type: Int(RtnetlinkMessage.getRoute), family: UInt8(AF_UNSPEC),
                                     headerSize: MemoryLayout<rtmsg>.size, what: "routes", parse: RtnetlinkCodec.parseRoute)
        var values: [SysctlKey: String] = [:]
        for k in keys { if let v = Sysctl.read(k) { values[k] = v } }
        let (filter, staging) = try observeFilterTables()
        var o = ObservedState(links: links, addresses: addrs, fdb: fdb, routes: routes, sysctls: values,
                              ipv6Enabled: access("/proc/sys/net/ipv6", F_OK) == 0, filter: filter)
        o.filterStaging = staging
        return o
    }

    /// Adds grant or learned elements to table inet gatepeer over netlink: all in one
    /// transaction when the kernel takes them, otherwise one by one, so one refused
    /// element does not keep the others out. A key already there with another verdict
    /// (a learned address whose rule changed) is deleted and added in one transaction.
    /// Returns the elements' failures; throws when netlink itself fails.
    public func loadElements(_ elements: [NftElement]) throws -> [KernelError] {
        guard !elements.isEmpty else { return [] }
        let nf = try NetlinkSocket(bus: NETLINK_NETFILTER)
        if try elementTransaction(nf, add: elements).isEmpty { return [] }
        var failures: [KernelError] = []
        for e in elements {
            guard let first = try elementTransaction(nf, add: [e]).first else { continue }
            if first.errno == EEXIST, try elementTransaction(nf, delete: [e], add: [e]).isEmpty { continue }
            failures.append(first)
        }
        return failures
    }

    /// Deletes elements (a revoked grant's) from table inet gatepeer over netlink. An
    /// element that is not there (it timed out already) is no failure. Returns how many
    /// were there and are deleted.
    @discardableResult
    public func deleteElements(_ elements: [NftElement]) throws -> Int {
        guard !elements.isEmpty else { return 0 }
        let nf = try NetlinkSocket(bus: NETLINK_NETFILTER)
        if try elementTransaction(nf, delete: elements).isEmpty { return elements.count }
        var deleted = 0
        for e in elements {
            if let f = try elementTransaction(nf, delete: [e]).first {
                if f.errno != ENOENT { throw f }
            } else {
                deleted += 1
            }
        }
        return deleted
    }

    /// One transaction on table inet gatepeer: delete `delete`, then add `add`.
    private func elementTransaction(_ nf: NetlinkSocket, delete: [NftElement] = [], add: [NftElement] = []) throws -> [KernelError] {
        var b = NftBatch(firstSequence: nf.takeSequence())
        b.elements(table: NftNames.table, delete, add: false)
        b.elements(table: NftNames.table, add, add: true)
        b.finish()
        // Only sets with timeouts change: what the read cache holds stays true.
        return try ownCommit(nf) { try nf.send(b) }
    }

    /// Per-element counters of interval maps (per-rule counts for prefix rules): for each
    /// named map, the low address of each element with its count. One listing of the
    /// table: every libnftables listing loads the whole ruleset first, so one per map
    /// would pay that again and again.
    /// (low address, counter) of every element of the maps whose names `include` accepts.
    public func mapElementCounters(_ include: (String) -> Bool) throws -> [String: [(IPAddress, PacketCount)]] {
        let text = try nft.run("list table \(NftNames.family) \(NftNames.table)", what: "nftables list table", json: true)
        var out: [String: [(IPAddress, PacketCount)]] = [:]
        for obj in NftJSON.objects(text, kind: "map") {
            guard case .string(let name)? = obj["name"], include(name), case .array(let elems)? = obj["elem"] else { continue }
            for pair in elems {
                guard case .array(let kv) = pair, let key = kv.first, case .object = key,
                      let elem = key["elem"], let low = NftJSON.lowAddress(elem["val"]) else { continue }
                let c = elem["counter"]
                out[name, default: []].append((low, PacketCount(packets: NftJSON.uint(c?["packets"]), bytes: NftJSON.uint(c?["bytes"]))))
            }
        }
        return out
    }

    // MARK: apply

    /// What became of each change of an applied plan.
    public enum ChangeOutcome: Equatable, Sendable {
        /// The kernel took every request of the change.
        case applied
        /// The kernel refused at least one of its requests (the errors are in `failures`).
        case failed
        /// Not tried: the link it needs is missing (its creation failed).
        case skipped
    }

    /// The outcome of `Kernel.apply`: one outcome per change of the plan, by index, and
    /// the errors, each with the change it belongs to.
    public struct ApplyReport: Sendable {
        /// `outcomes[i]` is what became of `plan.changes[i]`.
        public var outcomes: [ChangeOutcome]
        /// What the kernel refused (a change may have several: a link change is two
        /// requests, a filter load and its extra elements several), plus one entry per
        /// link whose dependent changes were skipped because the link could not be
        /// created. `failureTags[i]` is the change of `failures[i]`.
        public var failures: [KernelError]
        /// The plan change of each entry of `failures`, index for index.
        public var failureTags: [ChangeTag]

        /// Changes the kernel took (0 ... plan.changes.count).
        public var applied: Int { outcomes.filter { $0 == .applied }.count }

        /// A report for `count` changes with these failures (tagged by change) and
        /// changes skipped for want of their link. A change with any failure failed; a
        /// skipped change is never also counted as failed or applied.
        init(count: Int, failures: [(ChangeTag, KernelError)], skipped: Set<ChangeTag>) {
            var outcomes = [ChangeOutcome](repeating: .applied, count: count)
            // Every tag is an index of the plan's changes; one that is not is a bug, and
            // trapping beats counting the change as applied.
            for (tag, _) in failures { outcomes[tag.index] = .failed }
            for tag in skipped { outcomes[tag.index] = .skipped }
            self.outcomes = outcomes
            self.failures = failures.map(\.1)
            self.failureTags = failures.map(\.0)
        }
    }

    /// Carries out `plan.changes` in order. Consecutive netlink changes share a batch;
    /// a batch is sent before anything that depends on it (a sysctl on a new device, or
    /// a change that needs the index of a device just created). Every request carries
    /// its change's tag (ChangeTag: the index in `plan.changes`), so each refusal is
    /// counted against the change it belongs to.
    /// `filterExtras`: nft commands loaded in the same transaction as a new filter table
    /// (active grants, learned domain addresses), so a reload never drops them.
    /// `mapCache`: where the destination maps last loaded are kept, for element deltas.
    public func apply(_ plan: Plan, observed: ObservedState, filterExtras: [NftElement] = [], mapCache: MapCache? = nil) throws -> ApplyReport {
        var index: [String: Int32] = [:]
        for l in observed.links { index[l.name] = l.index }
        var failures: [(ChangeTag, KernelError)] = []
        var batch = RequestBatch(socket: socket)
        var created: [String: (alias: String, tag: ChangeTag)] = [:]  // until marked

        func flush() throws {
            batch.finish()
            if batch.count > 0 {
                failures += try socket.send(batch).map { ($0.tag, $0.error) }
            }
            batch = RequestBatch(socket: socket)
        }
        /// Sends what is queued, learns the indexes of the links it created (one dump) and
        /// marks them ours by index. A link whose create failed gets no index, so nothing
        /// of it (not even the marker) lands on a device someone else made meanwhile.
        func settleCreated() throws {
            try flush()
            guard !created.isEmpty else { return }
            let refused = Set(failures.map(\.0))
            let now = try indexesByName()
            for (name, c) in created.sorted(by: { $0.key < $1.key }) {
                guard !refused.contains(c.tag), let idx = now[name] else { continue }
                index[name] = idx
                RtnetlinkCodec.markLink(batch, name: name, alias: c.alias, index: idx, tag: c.tag)
            }
            created.removeAll()
        }
        /// The index of a link, asking the kernel for links created in this run.
        func resolve(_ name: String) throws -> Int32? {
            if created[name] != nil { try settleCreated() }
            return index[name]
        }
        /// Changes that depend on a link that is not there (its creation failed) are
        /// skipped and counted per link, not reported one by one.
        var skipped: [String: [ChangeTag]] = [:]

        for (tag, change) in plan.taggedChanges {
            func missing(_ name: String) { skipped[name, default: []].append(tag) }
            /// Runs a step that is not a netlink batch, its KernelError counted against this change.
            func step(_ body: () throws -> [KernelError]) throws {
                do { failures += try body().map { (tag, $0) } } catch let e as KernelError { failures.append((tag, e)) }
            }
            switch change {
            case .deleteRoute(let r, let link):
                RtnetlinkCodec.deleteRoute(batch, r, label: link ?? "", tag: tag)
            case .deleteLink(let name, let idx, _):
                RtnetlinkCodec.deleteLink(batch, name: name, index: idx, tag: tag)
                index[name] = nil
            case .createLink(let spec):
                RtnetlinkCodec.createLink(batch, spec, tag: tag)
                created[spec.name] = (spec.alias, tag)
            case .changeLink(let spec, let idx, let attrs):
                RtnetlinkCodec.changeLink(batch, spec, index: idx, attrs, tag: tag)
            case .setSysctl(let key, _, let value):
                try settleCreated()
                if let dev = key.device, index[dev] == nil {
                    missing(dev)
                    continue
                }
                try step { try Sysctl.write(key, value); return [] }
            case .deleteFDB(let link, let entry, _):
                RtnetlinkCodec.deleteFDB(batch, link: link, entry, tag: tag)
            case .appendFDB(let link, let dst):
                guard let idx = try resolve(link) else { missing(link); continue }
                RtnetlinkCodec.appendFDB(batch, link: link, index: idx, destination: dst, tag: tag)
            case .deleteAddress(let link, let idx, let p, _):
                RtnetlinkCodec.address(batch, add: false, link: link, index: idx, p, tag: tag)
            case .addAddress(let link, let p):
                guard let idx = try resolve(link) else { missing(link); continue }
                RtnetlinkCodec.address(batch, add: true, link: link, index: idx, p, tag: tag)
            case .setLinkUp(let link):
                guard let idx = try resolve(link) else { missing(link); continue }
                RtnetlinkCodec.setLinkUp(batch, name: link, index: idx, tag: tag)
            case .addRoute(let link, let r):
                guard let idx = try resolve(link) else { missing(link); continue }
                RtnetlinkCodec.route(batch, .add, destination: r.destination, via: r.via, index: idx, label: link, onlink: r.onlink, tag: tag)
            case .replaceRoute(let link, let r, _):
                guard let idx = try resolve(link) else { missing(link); continue }
                RtnetlinkCodec.route(batch, .replace, destination: r.destination, via: r.via, index: idx, label: link, onlink: r.onlink, tag: tag)
            case .replaceFilter(let rs, _):
                try flush()
                // An extra element the kernel refuses (say, two learned entries that
                // overlap) does not keep the policy out: it is loaded after, one by one.
                try step { try loadFilter(rs, observed: observed.filter, extras: filterExtras, cache: mapCache) }
            case .deleteFilter:
                try flush()
                try step { try deleteFilter(observed: observed.filter, cache: mapCache); return [] }
            case .repairFilter(let rs, _):
                try flush()
                try step { try loadFilter(rs, observed: observed.filter, extras: filterExtras, cache: mapCache, full: true) }
            case .deleteStaging:
                try flush()
                try deleteStaging()
            case .addElement(let e):
                try flush()
                failures += try loadElements([e]).map { (tag, $0) }
            case .deleteElement(let e):
                try flush()
                try step { try deleteElements([e]); return [] }
            }
        }
        try settleCreated()
        try flush()
        for (name, tags) in skipped.sorted(by: { $0.key < $1.key }) {
            // Reported once per link, under the first change it held back.
            failures.append((tags[0], KernelError(object: "link \(name)", errno: ENODEV,
                                                  kernelMessage: "device is missing; \(tags.count) dependent change(s) skipped")))
        }
        return ApplyReport(count: plan.changes.count, failures: failures, skipped: Set(skipped.values.joined()))
    }

    private func dumpLinks() throws -> [ObservedLink] {
        try socket.dump(type: Int(RtnetlinkMessage.getLink), family: UInt8(AF_UNSPEC),
                        headerSize: MemoryLayout<ifinfomsg>.size, what: "links", parse: RtnetlinkCodec.parseLink)
    }

    func indexesByName() throws -> [String: Int32] {
        let links = try dumpLinks()
        return Dictionary(links.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
    }
}
