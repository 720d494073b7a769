/// Compares the config with what the kernel holds and lists the changes, in the order
/// the kernel needs them (flannel's lesson: never make the kernel guess):
///   1. stale owned routes go first, so nothing points at a device about to vanish;
///   2. stale owned links, and links whose immutable attributes changed, are deleted;
///   then table inet gatepeer is loaded (or repaired, its dynamic elements put right),
///   before any link is created, changed or set up, so no link forwards or listens
///   unfiltered (its delete, when nothing needs it, goes last);
///   3. links are created or changed in place;
///   4. per-device sysctls (rp_filter loose, accept_ra off);
///   5. FDB entries (stale ones out, missing ones appended);
///   6. addresses; 7. links up; 8. routes (they need the address and the link up,
///      and are put back when an address change makes the kernel flush them);
///   9. global forwarding last, so forwarding starts only when the path is complete.
/// Only objects gatepeer owns are ever deleted or changed; look-alikes that are not
/// ours (a `gatepeer:` alias on a bridge, protocol 201 through the underlay) are
/// reported as warnings and left alone.
public enum Planner {
    /// The sysctls the planner reads, so the kernel layer can fetch exactly these.
    public static func sysctlKeys(for config: GatePeerConfig) -> [SysctlKey] {
        var keys: [SysctlKey] = []
        for l in config.links { keys += [.rpFilter(l.name), .acceptRA(l.name)] }
        if config.forwarding {
            keys.append(.ipv4Forward)
            if usesIPv6(config) { keys.append(.ipv6Forward) }
        }
        return keys
    }

    static func usesIPv6(_ config: GatePeerConfig) -> Bool {
        config.links.contains { l in l.innerIpAddress.family == .v6 || l.routes.contains { $0.destination.family == .v6 } }
    }

    /// `dynamic`: the grant and learned-address elements the state files say the kernel
    /// must hold now (GrantState.elements, LearnedAddresses.elements); the kernel's
    /// elements of those sets are compared with them one by one.
    /// `rendered`: a plan of the same config whose table is reused instead of rendering it
    /// again (the read-back after an apply: rendering 100,000 rules costs about as much as
    /// the rest of that plan; the MTUs it was rendered with come from the config and the
    /// underlay, which an apply does not change).
    public static func plan(config: GatePeerConfig, observed: ObservedState, dynamic: [NftElement] = [], rendered: Plan? = nil) -> Plan {
        var blockers: [String] = []
        var routeDeletes: [Plan.Change] = []
        var linkDeletes: [Plan.Change] = []
        var linkWrites: [Plan.Change] = []
        var sysctls: [Plan.Change] = []
        var fdbDeletes: [Plan.Change] = []
        var fdbAppends: [Plan.Change] = []
        var addrDeletes: [Plan.Change] = []
        var addrAdds: [Plan.Change] = []
        var ups: [Plan.Change] = []
        var routeWrites: [Plan.Change] = []

        var handledLinkNames = Set<String>()
        /// Links whose state we must leave alone this round (blocked): not deleted as stale.
        var protectedIndexes = Set<Int32>()
        var desiredRouteKeys = Set<IPPrefix>()
        // Routes in the main table by destination: ours (all of them: duplicates at other
        // metrics are stale), and anyone else's (first wins).
        var ownedRoutes: [IPPrefix: [ObservedRoute]] = [:]
        var foreignRoutes: [IPPrefix: ObservedRoute] = [:]
        var staleDuplicates: [(ObservedRoute, String?)] = []
        var warnings: [String] = []
        var notes: [String] = []
        // Devices left unmarked by an interrupted apply count as ours from the start, so
        // routes through them are ours too (a cleared marker on a converged device).
        let adopting = Set(config.links.compactMap { l in observed.link(named: l.name).flatMap { isInterruptedCreate(l, $0, observed) ? $0.index : nil } })
        let ownedIndexes = Set(observed.links.filter(\.isOwned).map(\.index)).union(adopting)
        func isOwnedRoute(_ r: ObservedRoute) -> Bool { r.isOwned(through: ownedIndexes) }
        for l in observed.links where l.looksOwned && !adopting.contains(l.index) {
            warnings.append("link \(Echo.value(l.name)) (kind \(Echo.value(l.kind ?? "none"))) has alias \(Echo.quoted(l.alias ?? "")) but is not gatepeer's: only a vxlan device whose alias is exactly gatepeer:<its own name> is; it is left alone")
        }
        for r in observed.routes where r.hasOurProtocol && !isOwnedRoute(r) {
            let dev = r.outputIndex.flatMap { observed.link(index: $0)?.name }.map { " dev \($0)" } ?? ""
            let table = r.table == ObservedRoute.mainTable ? "" : " table \(r.table)"
            warnings.append("route \(r.destination)\(r.gateway.map { " via \($0)" } ?? "")\(dev)\(table) has protocol \(Ownership.routeProtocol) but is not gatepeer's: gatepeer's routes are in the main table and go out through its own devices; it is left alone")
        }
        for r in observed.routes where r.table == ObservedRoute.mainTable {
            if isOwnedRoute(r) {
                ownedRoutes[r.destination, default: []].append(r)
            } else if foreignRoutes[r.destination] == nil, r.beats(ourMetricFor: r.destination.family) {
                // Someone else's route at a worse metric than ours (a backup) carries
                // nothing while ours is there, and ours can be added beside it.
                foreignRoutes[r.destination] = r
            }
        }

        for (i, link) in config.links.enumerated() {
            handledLinkNames.insert(link.name)
            let existing = observed.link(named: link.name)
            if let e = existing, !e.isOwned, !adopting.contains(e.index) {
                blockers.append("links[\(i)].name: device \(link.name) exists and is not gatepeer's (alias \(e.alias.map { Echo.quoted($0) } ?? "unset")); it is left alone: rename it or choose another name")
                protectedIndexes.insert(e.index)
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                continue
            }
            guard let underlay = observed.link(named: link.underlayDevice) else {
                blockers.append("links[\(i)].underlayDevice: device \(link.underlayDevice) does not exist; link \(link.name) is left as it is")
                if let e = existing { protectedIndexes.insert(e.index) }
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                continue
            }
            let hasOuter = HAStandby.holdsOuterAddress(link, observed)
            if !hasOuter, config.ha != nil {
                // The HA standby: keepalived adds the outer address on the master only. The
                // kernel creates the device and brings it up without it (the vxlan socket is
                // bound to the wildcard address; sends fail until the address arrives), so
                // the standby keeps everything else converged and takeover needs no apply.
                notes.append("links[\(i)].outerIpAddress: \(link.outerIpAddress) is not on \(link.underlayDevice): this node is the HA standby for link \(link.name) (keepalived adds the address on the master); the link is kept ready")
            } else if !hasOuter {
                blockers.append("links[\(i)].outerIpAddress: \(link.outerIpAddress) is not configured on \(link.underlayDevice); the tunnel could not bind to it")
                if let e = existing { protectedIndexes.insert(e.index) }
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                continue
            }
            let maxMTU = underlay.mtu - link.overhead
            if let m = link.mtu, m > maxMTU {
                blockers.append("links[\(i)].mtu: \(m) does not fit through \(link.underlayDevice) (MTU \(underlay.mtu) minus \(link.overhead) bytes of VXLAN overhead = \(maxMTU))")
                if let e = existing { protectedIndexes.insert(e.index) }
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                continue
            }
            let floor = link.innerIpAddress.family.minimumLinkMTU
            if link.mtu == nil, maxMTU < floor {
                blockers.append("links[\(i)].mtu: \(link.underlayDevice) (MTU \(underlay.mtu)) minus \(link.overhead) bytes of VXLAN overhead leaves \(maxMTU), below \(floor), the least every \(link.innerIpAddress.family.name) host accepts (the MSS clamp would be \(maxMTU - (link.innerIpAddress.family == .v4 ? 40 : 60))); raise the underlay's MTU")
                if let e = existing { protectedIndexes.insert(e.index) }
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                continue
            }
            if existing == nil, let holder = observed.links.first(where: { $0.altNames.contains(link.name) }) {
                blockers.append("links[\(i)].name: \(link.name) is an alternative name of device \(holder.name), which gatepeer does not own; the kernel refuses a device of that name: remove the altname or choose another name")
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                continue
            }
            let spec = LinkSpec(name: link.name, alias: Ownership.alias(forLink: link.name), vxlanId: link.vxlanId,
                                port: link.port, portRange: link.sourcePortRange, underlayName: underlay.name,
                                underlayIndex: underlay.index, local: link.outerIpAddress, mtu: link.mtu ?? maxMTU,
                                mac: link.mac, learning: link.learning)

            // The link itself.
            var current: ObservedLink? = existing
            if let e = existing {
                if let reason = recreateReason(spec, e) {
                    linkDeletes.append(.deleteLink(name: e.name, index: e.index, reason: "recreate: \(reason)"))
                    current = nil
                }
            }
            let fam = spec.local.family == .v4 ? "IPv4" : "IPv6"
            var held: String?
            if current == nil, let holder = vniHolder(spec, ownedIndexes: ownedIndexes, observed) {
                held = "links[\(i)].vxlanId: VNI \(spec.vxlanId) port \(spec.port) (\(fam)) is held by device \(holder.name), which gatepeer does not own; the kernel refuses a second vxlan device with the same VNI, port and outer family: delete \(holder.name) or choose another vxlanId or port"
            } else if !(current?.isUp ?? false), let holder = portHolder(spec, ownedIndexes: ownedIndexes, observed) {
                let options = (holder.vxlan?.receiveOptions ?? []).joined(separator: " ")
                held = "links[\(i)].port: UDP port \(spec.port) (\(fam)) is held by device \(holder.name) (up, receive options \(options)), which gatepeer does not own; the kernel shares a vxlan UDP socket only between devices with the same receive options (ours: none), so \(spec.name) could not come up (EADDRINUSE): take \(holder.name) down or delete it, or choose another port"
            }
            if let held {
                blockers.append(held)
                if let e = existing { protectedIndexes.insert(e.index) }
                for r in link.routes { desiredRouteKeys.insert(r.destination) }
                linkDeletes.removeAll { if case .deleteLink(_, let idx, _) = $0 { return idx == existing?.index } else { return false } }
                continue
            }
            if let e = current {
                var attrs = attributeChanges(spec, e, observed)
                if adopting.contains(e.index), let a = attrs.firstIndex(where: { $0.attribute == .alias }) {
                    attrs[a].note = "adopting a device left by an interrupted apply"
                }
                if !attrs.isEmpty { linkWrites.append(.changeLink(spec, index: e.index, attrs)) }
            } else {
                linkWrites.append(.createLink(spec))
            }

            // Sysctls: a new device starts from the namespace defaults we cannot see yet.
            var keys = [(SysctlKey.rpFilter(link.name), "2")]
            // Below 1280 the kernel gives a device no IPv6 at all (no conf/<dev> directory).
            if observed.ipv6Enabled && spec.mtu >= 1280 { keys.append((SysctlKey.acceptRA(link.name), "0")) }
            for (key, want) in keys {
                let have = current == nil ? nil : observed.sysctls[key]
                if have != want { sysctls.append(.setSysctl(key, old: have, new: want)) }
            }

            // FDB: one permanent all-zero entry per gate peer, exactly as we make it, and
            // what the kernel learned from a gate peer; entries toward anyone else (learned
            // ones included), entries pinned by hand (they can steer a MAC to the wrong
            // gate peer) and drifted ones go.
            let wantPeers = link.peers.map(\.outerIpAddress)
            var havePeers: [IPAddress] = []
            if let e = current {
                for entry in observed.fdb where entry.linkIndex == e.index && entry.flags & ntfMaster == 0 {
                    let toPeer = entry.destination.map { wantPeers.contains($0) } ?? false
                    if entry.isGatePeerEntry, toPeer, let d = entry.destination, !havePeers.contains(d) {
                        havePeers.append(d)
                    } else if !entry.mac.isZero, toPeer, entry.isLearned {
                        // Learned from a gate peer at the device's port and VNI; it ages out.
                    } else {
                        let reason = !toPeer ? "not a configured peer" : entry.mac.isZero ? "not as gatepeer makes it" : "not learned by the kernel"
                        fdbDeletes.append(.deleteFDB(link: link.name, entry, reason: reason))
                    }
                }
            }
            for d in wantPeers where !havePeers.contains(d) {
                fdbAppends.append(.appendFDB(link: link.name, destination: d))
            }

            // Addresses: the inner address only; IPv6 link-local is the kernel's.
            var haveAddrs: [IPPrefix] = []
            if let e = current {
                haveAddrs = observed.addresses.filter { $0.linkIndex == e.index && !$0.prefix.address.isIPv6LinkLocal }.map(\.prefix)
                for a in haveAddrs where a != link.innerIpAddress {
                    addrDeletes.append(.deleteAddress(link: link.name, index: e.index, a))
                }
            }
            // The kernel adds a prefix route with the address (proto kernel, scope link)
            // and never puts it back once deleted: without it the device subnet is not
            // routed through the link although the address is there. Deleting the
            // address and adding it again makes the kernel add the route, as `ip addr`
            // would; the device's routes of that family go with the delete and are put
            // back below.
            var readded: IPAddress.Family?
            if config.ha != nil {
                // keepalived adds and deletes the inner address (a virtual address of the
                // master): gatepeer neither adds nor removes it, nor re-adds it for its route.
            } else if let e = current, haveAddrs.contains(link.innerIpAddress), prefixRouteMissing(link.innerIpAddress, on: e, observed) {
                addrDeletes.append(.deleteAddress(link: link.name, index: e.index, link.innerIpAddress,
                                                  reason: "its prefix route \(link.innerIpAddress.network) dev \(link.name) is gone; added again so the kernel restores it"))
                addrAdds.append(.addAddress(link: link.name, link.innerIpAddress))
                readded = link.innerIpAddress.family
            } else if !haveAddrs.contains(link.innerIpAddress) {
                addrAdds.append(.addAddress(link: link.name, link.innerIpAddress))
            }

            if !(current?.isUp ?? false) { ups.append(.setLinkUp(link: link.name)) }

            // When a device's last address of a family goes, the kernel flushes the
            // device's routes of that family (IPv4: fib_disable_ip), ours via gateways
            // on it included. The new address comes later in the plan, so those routes
            // are (re)placed after it rather than kept: one apply converges.
            var flushedFamilies = Set(haveAddrs.map(\.family)).subtracting(haveAddrs.filter { $0 == link.innerIpAddress }.map(\.family))
            if let f = readded { flushedFamilies.insert(f) }

            // Routes to LANs behind devices. With ha they are onlink: the standby has no
            // address in the device subnet, and without one the kernel refuses a gateway
            // there ("Nexthop has invalid gateway"); onlink also survives the inner address
            // moving in and out (the kernel flushes the device's routes when keepalived
            // deletes its last address, and the reconcile puts them back).
            let onlink = config.ha != nil
            for var r in link.routes {
                r.onlink = onlink
                desiredRouteKeys.insert(r.destination)
                if let f = foreignRoutes[r.destination] {
                    blockers.append("links[\(i)].routes: \(r.destination) is already routed by protocol \(f.protocolNumber)\(f.outputIndex.flatMap { observed.link(index: $0) }.map { " dev \($0.name)" } ?? ""), which gatepeer does not own; that route is left alone")
                    continue
                }
                let mine = ownedRoutes[r.destination] ?? []
                let name = { (x: ObservedRoute) in x.outputIndex.flatMap { observed.link(index: $0)?.name } }
                if let e = current, let keep = mine.firstIndex(where: { $0.outputIndex == e.index && $0.gateway == r.via && (!onlink || $0.onlink) }) {
                    for (j, m) in mine.enumerated() where j != keep { staleDuplicates.append((m, name(m))) }
                    if flushedFamilies.contains(r.destination.family) {
                        routeWrites.append(.replaceRoute(link: link.name, r, old: mine[keep]))
                    }
                    continue
                }
                // Replace works on the route at our metric; owned routes at other metrics go.
                if let target = mine.first(where: { $0.hasDefaultMetric }) {
                    routeWrites.append(.replaceRoute(link: link.name, r, old: target))
                    for m in mine where m != target { staleDuplicates.append((m, name(m))) }
                } else {
                    routeWrites.append(.addRoute(link: link.name, r))
                    for m in mine { staleDuplicates.append((m, name(m))) }
                }
            }
        }

        // Someone else's more specific route inside a destination we route (a device's
        // /32 out through the underlay) takes that part of it away from the tunnel, and
        // everything looks in sync: a blocker, so status degrades and says which.
        blockers += shadowingRoutes(config, observed, ownedIndexes: ownedIndexes)

        // Stale owned routes, then stale owned links.
        for r in observed.routes where isOwnedRoute(r) && !desiredRouteKeys.contains(r.destination) {
            let linkName = r.outputIndex.flatMap { observed.link(index: $0)?.name }
            routeDeletes.append(.deleteRoute(r, linkName: linkName))
        }
        for (r, linkName) in staleDuplicates { routeDeletes.append(.deleteRoute(r, linkName: linkName)) }
        for l in observed.links where l.isOwned && !handledLinkNames.contains(l.name) && !protectedIndexes.contains(l.index) {
            linkDeletes.append(.deleteLink(name: l.name, index: l.index, reason: "not in config"))
        }

        // A route whose device is deleted (stale or recreated) vanishes with it: add it
        // afresh rather than "replace" a route that will no longer exist.
        let deletedIndexes = Set(linkDeletes.compactMap { c -> Int32? in if case .deleteLink(_, let idx, _) = c { return idx } else { return nil } })
        routeWrites = routeWrites.map { c in
            if case .replaceRoute(let link, let r, let old) = c, let oi = old.outputIndex, deletedIndexes.contains(oi) {
                return .addRoute(link: link, r)
            }
            return c
        }

        var global: [Plan.Change] = []
        if config.forwarding {
            var keys = [SysctlKey.ipv4Forward]
            if usesIPv6(config) && observed.ipv6Enabled { keys.append(.ipv6Forward) }
            for k in keys where observed.sysctls[k] != "1" {
                global.append(.setSysctl(k, old: observed.sysctls[k], new: "1"))
            }
        }

        // The filter table (outbound policy and VXLAN guard) goes in before any link is
        // created, changed or set up: ip_forward is often 1 already (down leaves it, the
        // sysctl drop-in sets it), so a link up before its table forwards unfiltered, and
        // conntrack keeps such a flow open after the table arrives. The ruleset names
        // devices (iifname/oifname) and takes each link's MTU as it will be after the
        // apply: from the config or the underlay, never from the links it is loaded ahead
        // of, except that a blocked link's device keeps the MTU the kernel gave it. Only
        // the table's delete (no links, no filter) stays last, after the links it guarded
        // are gone.
        var filter: [Plan.Change] = []
        var filterLast: [Plan.Change] = []
        if observed.filterStaging { filter.append(.deleteStaging) }
        let ruleset = rendered.map { $0.ruleset } ?? NftRenderer.render(config, mtus: linkMTUs(config, observed, blocked: protectedIndexes), live: liveTunnels(config, observed, blocked: protectedIndexes))
        switch (ruleset, observed.filter) {
        case (nil, nil): break
        case (nil, .some): filterLast.append(.deleteFilter)
        case (let rs?, nil): filter.append(.replaceFilter(rs, old: nil))
        case (let rs?, let o?):
            if o.fingerprint != rs.fingerprint {
                filter.append(.replaceFilter(rs, old: o.fingerprint ?? ""))
                // A full load brings the dynamic elements inline; a delta leaves them be.
                if o.skeleton == rs.skeletonFingerprint { filter += elementChanges(dynamic, o) }
            } else if let reason = contentDrift(rs, o) {
                filter.append(.repairFilter(rs, reason: reason))
            } else {
                filter += elementChanges(dynamic, o)
            }
        }

        let changes = routeDeletes + linkDeletes + filter + linkWrites + sysctls + fdbDeletes + fdbAppends
            + addrDeletes + addrAdds + ups + routeWrites + global + filterLast
        var plan = Plan(changes: changes, blockers: blockers)
        plan.warnings = warnings
        plan.notes = notes
        plan.ruleset = ruleset
        return plan
    }

    /// Blockers for routes in the main table that are not gatepeer's, do not go out through
    /// its devices, and are more specific than a destination the config routes through a
    /// link (its inner network, its LAN routes): the kernel takes the longest prefix, so
    /// traffic to them bypasses the tunnel. Routes to exactly a configured destination are
    /// judged where that route is planned. Policy rules (`ip rule`) are not read.
    static func shadowingRoutes(_ config: GatePeerConfig, _ observed: ObservedState, ownedIndexes: Set<Int32>) -> [String] {
        var found: [String] = []
        for (i, link) in config.links.enumerated() {
            let wanted = [("innerIpAddress", link.innerIpAddress.network)] + link.routes.map { ("routes", $0.destination) }
            for r in observed.routes where r.table == ObservedRoute.mainTable && !r.isOwned(through: ownedIndexes)
                && !(r.outputIndex.map(ownedIndexes.contains) ?? false) {
                guard let (field, covering) = wanted.first(where: { $0.1.length < r.destination.length && $0.1.overlaps(r.destination) }) else { continue }
                let dev = r.outputIndex.flatMap { observed.link(index: $0)?.name }.map { " dev \($0)" } ?? ""
                found.append("links[\(i)].\(field): \(r.destination)\(r.gateway.map { " via \($0)" } ?? "")\(dev) (protocol \(r.protocolNumber)), which gatepeer does not own, is more specific than \(covering) and takes that traffic away from \(link.name); that route is left alone: delete it or route it through \(link.name)")
            }
        }
        return found
    }

    /// True when `prefix` (an address on `link`, which is up) should have a prefix route
    /// in the main table and has none: a route to its network out through `link` with no
    /// gateway, whoever's. A full-length prefix (/32, /128) gets no prefix route (IPv4:
    /// fib_add_ifaddr), and a device that is down has none until it comes up.
    static func prefixRouteMissing(_ prefix: IPPrefix, on link: ObservedLink, _ observed: ObservedState) -> Bool {
        guard link.isUp, prefix.length < prefix.family.bitCount else { return false }
        let network = prefix.network
        return !observed.routes.contains { r in
            r.table == ObservedRoute.mainTable && r.outputIndex == link.index && r.gateway == nil && r.destination == network
        }
    }

    /// Why the table's content is not what gatepeer loaded for `rs`, nil when it is (or
    /// was not read). Chains whose rule counts differ are named first (base chains
    /// first: they are where traffic enters), then destination maps whose elements differ
    /// from the rendered intervals, then the stored digest of everything else.
    static func contentDrift(_ rs: NftRuleset, _ o: ObservedFilter) -> String? {
        // Read from the table list, content read or not: a dormant table filters nothing.
        if o.dormant { return "table dormant: no hook runs its rules" }
        guard let c = o.content else { return nil }
        var why: [String] = []
        let want = rs.chainRules
        for (name, n) in want.sorted(by: { ($0.value.base ? 0 : 1, $0.key) < ($1.value.base ? 0 : 1, $1.key) }) {
            guard let have = c.rules[name] else { why.append("chain \(name) missing"); continue }
            if have != n.rules { why.append("chain \(name): \(have) rule\(have == 1 ? "" : "s"), want \(n.rules)") }
        }
        for name in c.rules.keys.sorted() where want[name] == nil { why.append("chain \(name) is not gatepeer's") }
        for m in rs.maps where o.mapsAsLoaded != rs.fingerprint {
            let want = m.elementDigest, have = c.elements[m.name] ?? FilterContent.SetElements()
            if have == want { continue }
            why.append("map \(m.name): " + (have.count == want.count ? "elements differ" : "\(have.count) elements, want \(want.count)"))
        }
        if why.isEmpty, o.loadedContent != c.digest(excluding: Set(rs.maps.map(\.name))) {
            why.append(o.loadedContent == nil ? "loaded without a content digest" : "sets, objects or rules edited outside gatepeer")
        }
        guard !why.isEmpty else { return nil }
        return why.prefix(3).joined(separator: "; ") + (why.count > 3 ? "; \(why.count - 3) more" : "")
    }

    /// Grant and learned elements the kernel lacks (added), and elements of those sets no
    /// state file explains (deleted). Keys and verdicts are compared; timeouts are not
    /// (they run down in the kernel).
    static func elementChanges(_ dynamic: [NftElement], _ o: ObservedFilter) -> [Plan.Change] {
        guard let c = o.content else { return [] }
        var out: [Plan.Change] = []
        var want = Set<ObservedElement>()
        for e in dynamic {
            let k = ObservedElement(e)
            want.insert(k)
            // A set the table does not have (another config's group) is not ours to fill.
            guard let have = c.dynamic[e.set] else { continue }
            if !have.contains(k) { out.append(.addElement(e)) }
        }
        for set in c.dynamic.keys.sorted() {
            for k in c.dynamic[set]! where !want.contains(k) { out.append(.deleteElement(k.element)) }
        }
        return out
    }

    /// Each link's MTU as it will be set: the config's, or the underlay's minus overhead.
    /// What the kernel's own devices of config links run where it differs from the config
    /// (port, VNI or underlay) and stays so because the change is blocked (`blocked`: the
    /// indexes of devices a blocker leaves alone): the VXLAN guard covers those too, so it
    /// never leaves a running tunnel open. A device this plan recreates is deleted before
    /// the table loads and needs no such rule (with one, the next plan would reload the
    /// table without it). A device of another outer family is left out (its peers set
    /// would have the wrong type; a family change recreates the device anyway).
    public static func liveTunnels(_ config: GatePeerConfig, _ observed: ObservedState, blocked: Set<Int32>) -> [LiveTunnel] {
        var out: [LiveTunnel] = []
        for (i, l) in config.links.enumerated() {
            guard let e = observed.link(named: l.name), e.isOwned, blocked.contains(e.index), let v = e.vxlan,
                  (v.local?.family ?? l.outerIpAddress.family) == l.outerIpAddress.family else { continue }
            let underlay = v.underlayIndex.flatMap { observed.link(index: $0)?.name } ?? l.underlayDevice
            let t = LiveTunnel(link: i, port: v.port, vni: v.id, family: l.outerIpAddress.family, underlay: underlay)
            if t != LiveTunnel(link: i, port: l.port, vni: l.vxlanId, family: l.outerIpAddress.family, underlay: l.underlayDevice) { out.append(t) }
        }
        return out
    }

    /// Each config link's MTU in bytes by link name, as it will be after the apply: for a
    /// link whose device a blocker leaves alone (`blocked`: the indexes of those devices),
    /// the device's MTU as the kernel has it (the table must not clamp to an MTU no device
    /// has); else the config's `mtu`, else the observed underlay's MTU minus the link's
    /// encapsulation overhead (VPGLink.overhead); links whose underlay is missing are absent.
    public static func linkMTUs(_ config: GatePeerConfig, _ observed: ObservedState, blocked: Set<Int32> = []) -> [String: Int] {
        var out: [String: Int] = [:]
        for l in config.links {
            if let e = observed.link(named: l.name), blocked.contains(e.index) {
                out[l.name] = e.mtu
            } else if let m = l.mtu {
                out[l.name] = m
            } else if let u = observed.link(named: l.underlayDevice) {
                out[l.name] = u.mtu - l.overhead
            }
        }
        return out
    }

    /// NTF_MASTER: an entry of a bridge the device was enslaved to, not the device's own.
    static let ntfMaster: UInt8 = 0x04

    /// An unmarked device that is exactly what we would have made for `link` (kind vxlan,
    /// its name, VNI, port, source-port range, local address, underlay, MAC): the create of
    /// an apply killed before the marker request. Anything less exact stays foreign.
    static func isInterruptedCreate(_ link: VPGLink, _ e: ObservedLink, _ observed: ObservedState) -> Bool {
        guard e.kind == "vxlan", e.alias == nil || e.alias == "", let v = e.vxlan,
              let u = observed.link(named: link.underlayDevice) else { return false }
        return v.id == link.vxlanId && v.port == link.port && v.portRange == link.sourcePortRange
            && v.local == link.outerIpAddress && v.underlayIndex == u.index && e.mac == link.mac
            && v.receiveFlags.isEmpty && !v.vniFilter
    }

    /// A vxlan device gatepeer does not own that holds the VNI and port of `s` in its outer
    /// family: the kernel refuses to create `s` next to it (vxlan_vni_in_use, EEXIST). It
    /// compares VNI, destination port, family and the receive options (GBP, collect
    /// metadata, remote checksum offload, zero IPv6 UDP checksums), not the local address.
    static func vniHolder(_ s: LinkSpec, ownedIndexes: Set<Int32>, _ observed: ObservedState) -> ObservedLink? {
        observed.links.first { l in
            guard l.name != s.name, !ownedIndexes.contains(l.index), let v = l.vxlan else { return false }
            return v.id == s.vxlanId && !v.vniFilter && v.port == s.port && v.family == s.local.family && v.receiveFlags.isEmpty
        }
    }

    /// An up vxlan device gatepeer does not own that holds the UDP socket of `s`'s port and
    /// outer family with other receive options (VXLAN_F_RCV_FLAGS: GBP, GPE, collect
    /// metadata, VNI filter, remote checksum offload, zero IPv6 UDP checksums): the kernel
    /// shares a socket only between devices whose receive options match (vxlan_find_sock),
    /// so opening `s` binds a second socket and fails with EADDRINUSE. A collect-metadata
    /// device opens an IPv4 and an IPv6 socket. A userspace socket on the port is not
    /// visible through rtnetlink; the kernel's EADDRINUSE names that case at apply.
    static func portHolder(_ s: LinkSpec, ownedIndexes: Set<Int32>, _ observed: ObservedState) -> ObservedLink? {
        observed.links.first { l in
            guard l.name != s.name, l.isUp, !ownedIndexes.contains(l.index), let v = l.vxlan, !v.receiveOptions.isEmpty else { return false }
            return v.port == s.port && (v.family == s.local.family || v.receiveFlags.contains("external"))
        }
    }

    /// Attributes the kernel refuses to change on a live vxlan device (EOPNOTSUPP):
    /// VNI, destination port, source port range; and the outer family, which picks the socket.
    static func recreateReason(_ s: LinkSpec, _ e: ObservedLink) -> String? {
        guard e.kind == "vxlan", let v = e.vxlan else { return "kind \(e.kind ?? "none") is not vxlan" }
        if v.id != s.vxlanId { return "vxlanId \(v.id) -> \(s.vxlanId) cannot change in place" }
        if v.port != s.port { return "port \(v.port) -> \(s.port) cannot change in place" }
        if v.portRange != s.portRange { return "sourcePortRange \(v.portRange) -> \(s.portRange) cannot change in place" }
        if let l = v.local, l.family != s.local.family { return "outer family \(l.family.name) -> \(s.local.family.name)" }
        return nil
    }

    static func attributeChanges(_ s: LinkSpec, _ e: ObservedLink, _ observed: ObservedState) -> [Plan.AttributeChange] {
        var out: [Plan.AttributeChange] = []
        if e.mtu != s.mtu { out.append(.init(attribute: .mtu, old: "\(e.mtu)", new: "\(s.mtu)")) }
        if e.mac != s.mac { out.append(.init(attribute: .mac, old: e.mac?.description ?? "none", new: s.mac.description)) }
        if e.alias != s.alias { out.append(.init(attribute: .alias, old: e.alias ?? "none", new: s.alias)) }
        if let v = e.vxlan {
            if v.local != s.local { out.append(.init(attribute: .local, old: v.local?.description ?? "none", new: s.local.description)) }
            if v.underlayIndex != s.underlayIndex {
                let old = v.underlayIndex.flatMap { observed.link(index: $0)?.name } ?? "none"
                out.append(.init(attribute: .dev, old: old, new: s.underlayName))
            }
            if v.learning != s.learning {
                out.append(.init(attribute: .learning, old: v.learning ? "on" : "off", new: s.learning ? "on" : "off"))
            }
        }
        return out
    }
}
