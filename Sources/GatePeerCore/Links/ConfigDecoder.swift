/// Decodes and validates a config in one pass, collecting every problem instead of
/// stopping at the first, so an operator fixes a file in one round. This type reads the
/// document and its links (peers, routes) and checks the links against each other; the
/// `filter` section is FilterDecoder's, `ipsec` IPsecDecoder's; all report to one
/// `Problems`, whose field readers are ObjectReader and FieldReader.
public enum ConfigDecoder {
    /// `decode(bytes:)` of the text's UTF-8.
    public static func decode(_ text: String) -> Result<GatePeerConfig, ConfigError> {
        decode(bytes: Array(text.utf8))
    }

    /// The config in `bytes` (JSON, UTF-8), or every problem found (at most
    /// `Problems.kept` with their text): JSON syntax, duplicate keys, unknown fields,
    /// values out of range, links, routes and filter groups that clash, IPsec sites that
    /// lint with errors.
    public static func decode(bytes: [UInt8]) -> Result<GatePeerConfig, ConfigError> {
        var root: JSONValue
        let dups: [(path: String, key: String, line: Int)]
        var streamed: StreamedRules? = StreamedRules()
        do {
            (root, dups) = try JSONReader.parse(bytes: bytes, stream: { [streamed] in streamed?.consumer(for: $0) })
        } catch {
            // A JSONSyntaxError: "line L, column C: MESSAGE".
            return .failure(ConfigError(problems: [ConfigProblem("", "not valid JSON: \(error)")]))
        }
        var p = Problems()
        for d in dups {
            p.add(Problems.memberPath(d.path, d.key),
                  "key appears more than once (line \(d.line)); each key may be given once")
        }
        var config = decodeRoot(root, streamed: streamed, &p)
        root = .null  // the tree and the streamed rules can go before the compiler runs
        streamed = nil
        if var f = config?.filter {
            config?.filter = nil
            FilterDecoder.compile(&f, path: "filter", &p)
            // A policy that does not compile has no meaning to cross-check; the IPsec sites
            // are still linted, so that every problem is reported in one run.
            if f.compiled == nil, let c = config { IPsecDecoder.lintErrors(c.ipsec, links: c.links, &p) }
            config = f.compiled == nil ? nil : config.map { var c = $0; c.filter = f; return c }
        }
        if let config { crossCheck(config, &p) }
        return p.result(config)
    }

    // MARK: document structure

    private static func decodeRoot(_ root: JSONValue, streamed: StreamedRules?, _ p: inout Problems) -> GatePeerConfig? {
        guard let o = ObjectReader(root, path: "", &p) else { return nil }
        let forwarding = o.bool("forwarding", &p) ?? true
        var links: [VPGLink] = []
        var ok = true
        var macGiven: [Bool] = []
        if let items = o.array("links", required: true, &p) {
            for (i, item) in items.enumerated() {
                if let l = decodeLink(item, path: "links[\(i)]", &p) { links.append(l) } else { ok = false }
                if case .object(let m) = item { macGiven.append(m.contains { $0.key == "mac" }) } else { macGiven.append(false) }
            }
        } else { ok = false }
        let linksOK = ok
        var filter: FilterConfig? = nil
        if let f = o.value("filter", &p) {
            filter = FilterDecoder.decode(f, links: ok ? links : nil, streamed: streamed, &p)
            if filter == nil { ok = false }
        }
        var ipsec: IPsecConfig? = nil
        if let v = o.value("ipsec", &p) {
            ipsec = IPsecDecoder.decode(v, links: links, &p)
            if ipsec == nil { ok = false }
        }
        var textfile: MetricsTextfile? = .automatic
        if let m = o.value("metrics", &p) { textfile = MetricsTextfile.decode(m, path: "metrics", &p) }
        var ha: HAConfig? = nil
        if let v = o.value("ha", &p) {
            ha = HADecoder.decode(v, path: "ha", links: linksOK ? links : nil, filter: filter, macGiven: macGiven, &p)
            if ha == nil { ok = false }
        }
        o.finish(&p, known: ["forwarding", "links", "filter", "ipsec", "metrics", "ha"])
        // crossCheck will not run: the IPsec sites are linted against the links that were
        // built, so a broken link does not hide a weak proposal until it is fixed.
        if !ok { IPsecDecoder.lintErrors(ipsec, links: links, &p) }
        guard ok, let textfile else { return nil }
        var config = GatePeerConfig(forwarding: forwarding, links: links, filter: filter, ipsec: ipsec)
        config.metricsTextfile = textfile
        config.ha = ha
        return config
    }

    private static func decodeLink(_ v: JSONValue, path: String, _ p: inout Problems) -> VPGLink? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        let name = o.string("name", required: true, &p).flatMap { FieldReader.interfaceName($0, "\(path).name", &p) }
        let vxlanId = o.integer("vxlanId", in: 1...16_777_215, &p) ?? Int(VPGLink.defaultVxlanId)
        let port = o.integer("port", in: 1...65535, &p) ?? Int(VPGLink.defaultPort)
        var range: PortRange? = PortRange(low: VPGLink.defaultPort, high: VPGLink.defaultPort)
        if let r = o.value("sourcePortRange", &p) {
            range = decodePortRange(r, path: "\(path).sourcePortRange", &p)
        }
        let underlay = o.string("underlayDevice", required: true, &p)
            .flatMap { FieldReader.interfaceName($0, "\(path).underlayDevice", &p) }
        let outer = o.string("outerIpAddress", required: true, &p)
            .flatMap { FieldReader.hostAddress($0, "\(path).outerIpAddress", field: .outerAddress, &p) }
        let inner = o.string("innerIpAddress", required: true, &p)
            .flatMap { FieldReader.interfaceAddress($0, "\(path).innerIpAddress", &p) }
        var peers: [GatePeer]? = nil
        if let items = o.array("peers", required: true, &p) {
            peers = decodePeers(items, path: "\(path).peers", outer: outer, inner: inner, &p)
        }
        let mtuFloor = (inner?.family ?? .v4).minimumLinkMTU
        let mtu = o.integer("mtu", in: mtuFloor...65535, &p,
                            hint: inner?.family == .v6 ? "(IPv6 inside needs at least 1280)" : "(IPv4 hosts must accept 576-byte packets, RFC 791; the MSS clamp mtu - 40 stays >= 536)")
        let learning = o.bool("learning", &p) ?? true
        let snatBackend = o.bool("snatBackendTraffic", &p) ?? false
        var mac: MACAddress? = nil
        if let text = o.string("mac", required: false, &p) {
            if let m = MACAddress(text), !m.isMulticast, !m.isZero {
                mac = m
            } else {
                p.add("\(path).mac", "\(Echo.quoted(text)) is not a unicast MAC address; valid: six hex pairs such as 02:00:5e:10:00:01, first octet even, not all zero")
            }
        }
        var routes: [LANRoute]? = []
        if let items = o.array("routes", required: false, &p) {
            routes = decodeRoutes(items, path: "\(path).routes", inner: inner, &p)
        }
        var liveness: LivenessSettings? = .default
        if let v = o.value("liveness", &p) {
            liveness = decodeLiveness(v, path: "\(path).liveness", &p)
        }
        o.finish(&p, known: ["name", "vxlanId", "port", "sourcePortRange", "underlayDevice", "outerIpAddress",
                             "innerIpAddress", "peers", "mtu", "learning", "mac", "routes", "snatBackendTraffic", "liveness"])
        guard let name, let range, let underlay, let outer, let inner, let peers, let routes, let liveness else { return nil }
        var capturesOwnTunnel = false
        // One sweep, not routes x peers: both lists can be long.
        let own = [outer] + peers.map(\.outerIpAddress)
        let caught = PrefixOverlap.owners(own.enumerated().map { .init(prefix: IPPrefix(address: $1, length: $1.family.bitCount)!, owner: $0, member: true) }
            + routes.map { .init(prefix: $0.destination, owner: -1, member: false) }).suffix(routes.count)
        for ((ri, r), owners) in zip(routes.enumerated(), caught) {
            if let k = owners.first(except: -1) {
                p.add("\(path).routes[\(ri)].destination", "\(r.destination) contains the tunnel's own outer address \(own[k]); the encapsulated packets would be routed into the tunnel")
                capturesOwnTunnel = true
            }
        }
        if capturesOwnTunnel { return nil }
        if name == underlay {
            p.add("\(path).underlayDevice", "\"\(underlay)\" is the link's own name; the underlay is the NIC the tunnel runs over")
        }
        var link = VPGLink(name: name, vxlanId: UInt32(vxlanId), port: UInt16(port), sourcePortRange: range,
                           underlayDevice: underlay, outerIpAddress: outer, innerIpAddress: inner, peers: peers,
                           mtu: mtu, learning: learning, mac: mac, routes: routes)
        link.snatBackendTraffic = snatBackend
        link.liveness = liveness
        return link
    }

    private static func decodePortRange(_ v: JSONValue, path: String, _ p: inout Problems) -> PortRange? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        let low = o.integer("low", in: 1...65535, required: true, &p)
        // 65535 cannot be the top: the kernel's range is half-open and 16 bits wide.
        let high = o.integer("high", in: 1...65534, required: true, &p)
        o.finish(&p, known: ["low", "high"])
        guard let low, let high else { return nil }
        guard low <= high else {
            p.add(path, "low \(low) is above high \(high); valid: low <= high")
            return nil
        }
        return PortRange(low: UInt16(low), high: UInt16(high))
    }

    private static func decodePeers(_ items: [JSONValue], path: String, outer: IPAddress?, inner: IPPrefix?,
                                    _ p: inout Problems) -> [GatePeer]? {
        if items.isEmpty {
            p.add(path, "is empty; list the VPG's gate peers (usually two outer addresses)")
            return nil
        }
        var peers: [GatePeer] = []
        var seen: [IPAddress: Int] = [:]
        var seenInner: [IPAddress: Int] = [:]
        var seenTarget: [IPAddress: (Int, String)] = [:]
        var ok = true
        for (i, item) in items.enumerated() {
            let pp = "\(path)[\(i)]"
            guard let o = ObjectReader(item, path: pp, &p) else { ok = false; continue }
            let po = o.string("outerIpAddress", required: true, &p).flatMap { FieldReader.hostAddress($0, "\(pp).outerIpAddress", field: .outerAddress, &p) }
            var pi: IPAddress? = nil
            var innerOK = true
            if let t = o.string("innerIpAddress", required: false, &p) {
                pi = peerInsideAddress(t, "\(pp).innerIpAddress", inner: inner, &p)
                innerOK = pi != nil
                if let pi, inner != nil {
                    if let first = seenInner[pi] {
                        p.add("\(pp).innerIpAddress", "\(pi) is already the innerIpAddress of \(path)[\(first)]"); innerOK = false
                    } else {
                        seenInner[pi] = i
                    }
                }
            }
            var probe: IPAddress? = nil
            if let t = o.string("probeAddress", required: false, &p) {
                probe = peerInsideAddress(t, "\(pp).probeAddress", inner: inner, &p)
                if probe == nil { innerOK = false }
            }
            o.finish(&p, known: ["outerIpAddress", "innerIpAddress", "probeAddress"])
            // Two peers probed at one address would both be judged by whoever answers it.
            if innerOK, let target = probe ?? pi {
                if let (first, field) = seenTarget[target] {
                    p.add(probe != nil ? "\(pp).probeAddress" : "\(pp).innerIpAddress",
                          "\(target) is already the probe target of \(path)[\(first)] (its \(field)); valid: an address only this gate peer answers")
                    innerOK = false
                } else {
                    seenTarget[target] = (i, probe != nil ? "probeAddress" : "innerIpAddress")
                }
            }
            guard let po, innerOK else { ok = false; continue }
            if let outer, po.family != outer.family {
                p.add("\(pp).outerIpAddress", "\(po) is \(po.family.name) but the link's outerIpAddress \(outer) is \(outer.family.name); valid: the same family")
                ok = false; continue
            }
            if let outer, po == outer {
                p.add("\(pp).outerIpAddress", "\(po) is this link's own outerIpAddress; valid: the VPG's gate peer addresses")
                ok = false; continue
            }
            if let first = seen[po] {
                p.add("\(pp).outerIpAddress", "\(po) is listed twice (also \(path)[\(first)]); each gate peer once")
                ok = false; continue
            }
            seen[po] = i
            peers.append(GatePeer(outerIpAddress: po, innerIpAddress: pi, probeAddress: probe))
        }
        return ok ? peers : nil
    }

    /// A peer's address inside the tunnel (`innerIpAddress`, `probeAddress`): a host
    /// address in the link's device subnet that is not the link's own; nil (reported) otherwise.
    private static func peerInsideAddress(_ text: String, _ path: String, inner: IPPrefix?, _ p: inout Problems) -> IPAddress? {
        guard let a = FieldReader.hostAddress(text, path, field: .deviceAddress, &p) else { return nil }
        guard let inner else { return a }
        if !inner.network.contains(a) {
            p.add(path, "\(a) is outside the link's device subnet \(inner.network); valid: an address of the gate peer in it")
        } else if a == inner.address {
            p.add(path, "\(a) is this link's own innerIpAddress; valid: an address of the gate peer")
        } else if let why = FieldReader.deviceAddressProblem(a, in: inner.network) {
            p.add(path, why)
        } else {
            return a
        }
        return nil
    }

    /// The link's `liveness` object; the defaults for what it leaves out.
    private static func decodeLiveness(_ v: JSONValue, path: String, _ p: inout Problems) -> LivenessSettings? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        let d = LivenessSettings.default
        let found = p.list.count + p.more
        let interval = o.integer("intervalMs", in: LivenessSettings.intervalRange, &p, hint: "(milliseconds between probes)")
        let timeout = o.integer("timeoutMs", in: LivenessSettings.timeoutRange, &p, hint: "(milliseconds an echo may take)")
        let rise = o.integer("rise", in: LivenessSettings.countRange, &p, hint: "(answered probes in a row that make a peer up)")
        let fall = o.integer("fall", in: LivenessSettings.countRange, &p, hint: "(lost probes in a row that make a peer down)")
        let enabled = o.bool("enabled", &p)
        o.finish(&p, known: ["intervalMs", "timeoutMs", "rise", "fall", "enabled"])
        if p.list.count + p.more != found { return nil }
        return LivenessSettings(intervalMs: interval ?? d.intervalMs, timeoutMs: timeout ?? d.timeoutMs,
                                rise: rise ?? d.rise, fall: fall ?? d.fall, enabled: enabled ?? d.enabled)
    }

    private static func decodeRoutes(_ items: [JSONValue], path: String, inner: IPPrefix?,
                                     _ p: inout Problems) -> [LANRoute]? {
        var routes: [LANRoute] = []
        var seen: [IPPrefix: Int] = [:]
        routes.reserveCapacity(items.count)
        seen.reserveCapacity(items.count)
        var ok = true
        for (i, item) in items.enumerated() {
            var rpCache: String?
            func rpf() -> String { if let c = rpCache { return c }; let v = "\(path)[\(i)]"; rpCache = v; return v }
            guard let o = ObjectReader(item, path: rpf(), &p) else { ok = false; continue }
            let dest = o.string("destination", required: true, &p).flatMap { FieldReader.network($0, "\(rpf()).destination", field: .routeDestination, &p) }
            let via = o.string("via", required: true, &p).flatMap { FieldReader.hostAddress($0, "\(rpf()).via", field: .deviceAddress, &p) }
            o.finish(&p, known: ["destination", "via"])
            guard let dest, let via else { ok = false; continue }
            var good = true
            if let inner {
                if !inner.network.contains(via) {
                    p.add("\(rpf()).via", "\(via) is outside the link's device subnet \(inner.network); valid: a device address in it")
                    good = false
                } else if via == inner.address {
                    p.add("\(rpf()).via", "\(via) is this link's own innerIpAddress; valid: a device address")
                    good = false
                } else if let why = FieldReader.deviceAddressProblem(via, in: inner.network) {
                    p.add("\(rpf()).via", why)
                    good = false
                }
                if dest.family == inner.family, dest.overlaps(inner.network) {
                    p.add("\(rpf()).destination", "\(dest) overlaps the link's device subnet \(inner.network), which is reached directly")
                    good = false
                }
            }
            if dest.family != via.family {
                p.add("\(rpf()).via", "\(via) is \(via.family.name) but destination \(dest) is \(dest.family.name)")
                good = false
            }
            if let first = seen[dest] {
                p.add("\(rpf()).destination", "\(dest) is listed twice (also \(path)[\(first)])")
                good = false
            }
            seen[dest] = i
            if good { routes.append(LANRoute(destination: dest, via: via)) } else { ok = false }
        }
        return ok ? routes : nil
    }

    // MARK: rules across links

    private static func crossCheck(_ c: GatePeerConfig, _ p: inout Problems) {
        IPsecDecoder.lintErrors(c.ipsec, links: c.links, &p)
        // Each check is a dictionary or one sweep over sorted prefixes (PrefixOverlap), so
        // the cost stays n log n in the links and routes, and a link repeating another is
        // reported once per check, naming the first link it repeats. Problems are then
        // reported link by link, in file order.
        let links = c.links
        var names: [String: PrefixOverlap.FirstOwners] = [:]
        // The kernel keys vxlan devices by VNI, port and outer family, not by the local
        // address (checked: a second device with another local gets EEXIST).
        var vxlanKeys: [String: Int] = [:]
        var firstRoute: [IPPrefix: (link: Int, route: Int)] = [:]
        firstRoute.reserveCapacity(links.reduce(0) { $0 + $1.routes.count })  // no rehash while it fills
        var subnets: [PrefixOverlap.Item] = [], outers: [PrefixOverlap.Item] = [], routeItems: [PrefixOverlap.Item] = []
        for (i, a) in links.enumerated() {
            names[a.name, default: .init()].add(i)
            if vxlanKeys[vxlanKey(a)] == nil { vxlanKeys[vxlanKey(a)] = i }
            subnets.append(.init(prefix: a.deviceSubnet, owner: i, member: true))
            for o in [a.outerIpAddress] + a.peers.map(\.outerIpAddress) {
                outers.append(.init(prefix: IPPrefix(address: o, length: o.family.bitCount)!, owner: i, member: true))
            }
            for (ri, r) in a.routes.enumerated() {
                routeItems.append(.init(prefix: r.destination, owner: i, member: false))
                if firstRoute[r.destination] == nil { firstRoute[r.destination] = (i, ri) }
            }
        }
        let subnetOwners = PrefixOverlap.owners(subnets)
        // The link's own subnet and outer addresses are decodeLink's and decodeRoutes' to report.
        var overSubnets = PrefixOverlap.owners(subnets + routeItems).suffix(routeItems.count).makeIterator()
        var overOuters = PrefixOverlap.owners(outers + routeItems).suffix(routeItems.count).makeIterator()
        for (i, a) in links.enumerated() {
            if let j = names[a.name]?.first(except: -1), j < i {
                p.add("links[\(i)].name", "\"\(a.name)\" is already the name of links[\(j)]; names must be unique")
            }
            if let j = vxlanKeys[vxlanKey(a)], j < i {
                p.add("links[\(i)]", "vxlanId \(a.vxlanId), port \(a.port) and an \(a.outerIpAddress.family.name) outer address are the same as links[\(j)]'s; the kernel cannot hold both (EEXIST) even with different outerIpAddress: give one link another vxlanId or port")
            }
            if let j = names[a.underlayDevice]?.first(except: i) {
                p.add("links[\(i)].underlayDevice", "\"\(a.underlayDevice)\" is links[\(j)].name; a tunnel cannot run over another tunnel of ours")
            }
            if let j = subnetOwners[i].first(except: i), j < i {
                p.add("links[\(i)].innerIpAddress", "device subnet \(a.deviceSubnet) overlaps links[\(j)]'s \(links[j].deviceSubnet); each VPG needs its own subnet")
            }
            for (ri, r) in a.routes.enumerated() {
                let bySubnet = overSubnets.next()!, byOuter = overOuters.next()!
                // Within a link, decodeRoutes reported a repeated destination (the link is not here).
                if let f = firstRoute[r.destination], f.link < i {
                    p.add("links[\(i)].routes[\(ri)].destination", "\(r.destination) is already routed by links[\(f.link)].routes[\(f.route)]")
                }
                if let j = byOuter.first(except: i),
                   let caught = ([links[j].outerIpAddress] + links[j].peers.map(\.outerIpAddress)).first(where: { r.destination.contains($0) }) {
                    p.add("links[\(i)].routes[\(ri)].destination", "\(r.destination) contains \(caught), an outer address of links[\(j)]; that tunnel's packets would be routed into this one")
                }
                if let j = bySubnet.first(except: i) {
                    p.add("links[\(i)].routes[\(ri)].destination", "\(r.destination) overlaps links[\(j)]'s device subnet \(links[j].deviceSubnet)")
                }
            }
        }
    }

    /// What the kernel keys a vxlan device by (see crossCheck).
    private static func vxlanKey(_ l: VPGLink) -> String { "\(l.vxlanId) \(l.port) \(l.outerIpAddress.family.name)" }
}
