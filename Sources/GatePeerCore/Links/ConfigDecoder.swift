/// One thing wrong with a config: where it is (a JSON path such as `links[1].vxlanId`)
/// and what would be valid.
///
/// Both are kept as `Echo.line` renders them: the sites quote values through
/// `Echo.value`, and this catches any that does not, so no problem can carry raw
/// control characters or an unbounded value into a terminal or a log.
public struct ConfigProblem: Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) { self.path = Echo.line(path); self.message = Echo.line(message) }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// The problems of one input. Memory stays linear in the input and bounded: the first
/// `Problems.kept` problems are kept, the rest only counted (`more`).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let problems: [ConfigProblem]
    /// Problems found beyond those kept.
    public let more: Int
    /// `problems` in the order found; `more`: how many were found beyond them.
    public init(problems: [ConfigProblem], more: Int = 0) { self.problems = problems; self.more = more }
    /// Every problem found, kept or only counted.
    public var count: Int { problems.count + more }
    public var description: String { report().joined(separator: "\n") }

    /// How many problems a report lists: enough to fix a file in a round or two, few
    /// enough that a hostile or badly generated file cannot flood a terminal or a log.
    public static let reportLimit = 50

    /// The problems as report lines, `indent` first: at most `reportLimit`, then
    /// "... and N more problem(s)" counting the rest.
    public func report(indent: String = "") -> [String] {
        var lines = problems.prefix(ConfigError.reportLimit).map { indent + $0.description }
        let rest = count - lines.count
        if rest > 0 { lines.append("\(indent)... and \(rest) more problem(s)") }
        return lines
    }
}

/// Decodes and validates a config in one pass, collecting every problem instead of
/// stopping at the first, so an operator fixes a file in one round.
public enum ConfigDecoder {
    public static func decode(_ text: String) -> Result<GatePeerConfig, ConfigError> {
        var text = text
        return text.withUTF8 { decode(bytes: $0) }
    }

    public static func decode(bytes: UnsafeBufferPointer<UInt8>) -> Result<GatePeerConfig, ConfigError> {
        var root: JSONValue
        let dups: [(path: String, key: String, line: Int)]
        var streamed: StreamedRules? = StreamedRules()
        do {
            (root, dups) = try JSONReader.parse(bytes: bytes, stream: { [streamed] in streamed?.consumer(for: $0) })
        } catch let e as JSONSyntaxError {
            return .failure(ConfigError(problems: [ConfigProblem("", "not valid JSON: \(e)")]))
        } catch {
            return .failure(ConfigError(problems: [ConfigProblem("", "not valid JSON: \(error)")]))
        }
        var p = Problems()
        for d in dups {
            p.add(d.path.isEmpty ? Echo.value(d.key) : "\(d.path).\(Echo.value(d.key))",
                  "key appears more than once (line \(d.line)); each key may be given once")
        }
        var config = decodeRoot(root, streamed: streamed, &p)
        root = .null  // the tree and the streamed rules can go before the compiler runs
        streamed = nil
        if var f = config?.filter {
            config?.filter = nil
            compileFilter(&f, path: "filter", &p)
            // A policy that does not compile has no meaning to cross-check; the IPsec sites
            // are still linted, so that every problem is reported in one run.
            if f.compiled == nil, let c = config { lintIPsec(c.ipsec, links: c.links, &p) }
            config = f.compiled == nil ? nil : config.map { var c = $0; c.filter = f; return c }
        }
        if let config { crossCheck(config, &p) }
        if p.list.isEmpty, let config { return .success(config) }
        return .failure(p.error)
    }

    // MARK: document structure

    private static func decodeRoot(_ root: JSONValue, streamed: StreamedRules?, _ p: inout Problems) -> GatePeerConfig? {
        guard var o = ObjectReader(root, path: "", &p) else { return nil }
        let forwarding = o.bool("forwarding", &p) ?? true
        var links: [VPGLink] = []
        var ok = true
        if let items = o.array("links", required: true, &p) {
            for (i, item) in items.enumerated() {
                if let l = decodeLink(item, path: "links[\(i)]", &p) { links.append(l) } else { ok = false }
            }
        } else { ok = false }
        var filter: FilterConfig? = nil
        if let f = o.value("filter", &p) {
            filter = decodeFilter(f, links: ok ? links : nil, streamed: streamed, &p)
            if filter == nil { ok = false }
        }
        var ipsec: IPsecConfig? = nil
        if let v = o.value("ipsec", &p) {
            ipsec = decodeIPsec(v, links: links, &p)
            if ipsec == nil { ok = false }
        }
        o.finish(&p, known: ["forwarding", "links", "filter", "ipsec"])
        // crossCheck will not run: the IPsec sites are linted against the links that were
        // built, so a broken link does not hide a weak proposal until it is fixed.
        if !ok { lintIPsec(ipsec, links: links, &p) }
        return ok ? GatePeerConfig(forwarding: forwarding, links: links, filter: filter, ipsec: ipsec) : nil
    }

    private static func decodeLink(_ v: JSONValue, path: String, _ p: inout Problems) -> VPGLink? {
        guard var o = ObjectReader(v, path: path, &p) else { return nil }
        let name = o.string("name", required: true, &p).flatMap { interfaceName($0, "\(path).name", &p) }
        let vxlanId = o.integer("vxlanId", in: 1...16_777_215, &p) ?? Int(VPGLink.defaultVxlanId)
        let port = o.integer("port", in: 1...65535, &p) ?? Int(VPGLink.defaultPort)
        var range: PortRange? = PortRange(low: VPGLink.defaultPort, high: VPGLink.defaultPort)
        if let r = o.value("sourcePortRange", &p) {
            range = decodePortRange(r, path: "\(path).sourcePortRange", &p)
        }
        let underlay = o.string("underlayDevice", required: true, &p)
            .flatMap { interfaceName($0, "\(path).underlayDevice", &p) }
        let outer = o.string("outerIpAddress", required: true, &p)
            .flatMap { hostAddress($0, "\(path).outerIpAddress", field: .outerAddress, &p) }
        let inner = o.string("innerIpAddress", required: true, &p)
            .flatMap { interfaceAddress($0, "\(path).innerIpAddress", &p) }
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
        o.finish(&p, known: ["name", "vxlanId", "port", "sourcePortRange", "underlayDevice", "outerIpAddress",
                             "innerIpAddress", "peers", "mtu", "learning", "mac", "routes", "snatBackendTraffic"])
        guard let name, let range, let underlay, let outer, let inner, let peers, let routes else { return nil }
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
        return link
    }

    private static func decodePortRange(_ v: JSONValue, path: String, _ p: inout Problems) -> PortRange? {
        guard var o = ObjectReader(v, path: path, &p) else { return nil }
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
        var ok = true
        for (i, item) in items.enumerated() {
            let pp = "\(path)[\(i)]"
            guard var o = ObjectReader(item, path: pp, &p) else { ok = false; continue }
            let po = o.string("outerIpAddress", required: true, &p).flatMap { hostAddress($0, "\(pp).outerIpAddress", field: .outerAddress, &p) }
            var pi: IPAddress? = nil
            var innerOK = true
            if let t = o.string("innerIpAddress", required: false, &p) {
                pi = hostAddress(t, "\(pp).innerIpAddress", field: .innerAddress, &p)
                innerOK = pi != nil
                if let pi, let inner {
                    if !inner.network.contains(pi) {
                        p.add("\(pp).innerIpAddress", "\(pi) is outside the link's device subnet \(inner.network)"); innerOK = false
                    } else if pi == inner.address {
                        p.add("\(pp).innerIpAddress", "\(pi) is this link's own innerIpAddress"); innerOK = false
                    } else if let why = deviceAddressProblem(pi, in: inner.network) {
                        p.add("\(pp).innerIpAddress", why); innerOK = false
                    } else if let first = seenInner[pi] {
                        p.add("\(pp).innerIpAddress", "\(pi) is already the innerIpAddress of \(path)[\(first)]"); innerOK = false
                    } else {
                        seenInner[pi] = i
                    }
                }
            }
            o.finish(&p, known: ["outerIpAddress", "innerIpAddress"])
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
            peers.append(GatePeer(outerIpAddress: po, innerIpAddress: pi))
        }
        return ok ? peers : nil
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
            guard var o = ObjectReader(item, path: rpf(), &p) else { ok = false; continue }
            let dest = o.string("destination", required: true, &p).flatMap { network($0, "\(rpf()).destination", field: .routeDestination, &p) }
            let via = o.string("via", required: true, &p).flatMap { hostAddress($0, "\(rpf()).via", field: .innerAddress, &p) }
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
                } else if let why = deviceAddressProblem(via, in: inner.network) {
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

    /// IPsec proposals and selectors against `links`' device subnets (errors only:
    /// warnings are `ipsec lint`'s to print).
    private static func lintIPsec(_ ipsec: IPsecConfig?, links: [VPGLink], _ p: inout Problems) {
        let subnets = links.map { ($0.name, $0.deviceSubnet) }
        for (i, site) in (ipsec?.sites ?? []).enumerated() {
            for f in IPsecLint.check(site, path: "ipsec.sites[\(i)]", deviceSubnets: subnets) where f.severity == .error {
                p.add(f.path, f.message)
            }
        }
    }

    private static func crossCheck(_ c: GatePeerConfig, _ p: inout Problems) {
        lintIPsec(c.ipsec, links: c.links, &p)
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

    // MARK: field parsers

    /// Linux accepts 1..15 bytes without '/', ':' or whitespace; we also refuse anything
    /// outside [A-Za-z0-9_.-] so names survive shells, sysctl paths and systemd units.
    static func interfaceName(_ s: String, _ path: @autoclosure () -> String, _ p: inout Problems) -> String? {
        let allowed = s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
        if s.isEmpty || s.utf8.count > 15 || !allowed || s == "." || s == ".." {
            p.add(path(), "\(Echo.quoted(s)) is not a usable interface name; valid: 1 to 15 characters of A-Z a-z 0-9 _ - . (not \".\" or \"..\")")
            return nil
        }
        if s == "all" || s == "default" {
            p.add(path(), "\"\(s)\" names the sysctl directories net.ipv4.conf.\(s) that apply to every interface; choose another name")
            return nil
        }
        return s
    }

    /// An address in `field`: refused when it does not parse or is of a class the field
    /// cannot use (AddressField's table).
    static func hostAddress(_ s: String, _ path: @autoclosure () -> String, field: AddressField, _ p: inout Problems) -> IPAddress? {
        guard let a = IPAddress(s) else {
            p.add(path(), "\(Echo.quoted(s)) is not an IP address; valid: IPv4 such as 192.0.2.1 or IPv6 such as 2001:db8::1, without a prefix length")
            return nil
        }
        if let why = field.problem(a, text: "\(a)") {
            p.add(path(), why)
            return nil
        }
        return a
    }

    /// A device's address inside the device subnet: not the subnet's network address,
    /// nor (IPv4) its broadcast address, for subnets that have them.
    static func deviceAddressProblem(_ a: IPAddress, in subnet: IPPrefix) -> String? {
        guard subnet.length < subnet.family.bitCount - 1 else { return nil }
        if a == subnet.address.masked(subnet.length) { return "\(a) is the network address of \(subnet); valid: a device address in it" }
        if subnet.family == .v4, a == subnet.lastAddress { return "\(a) is the broadcast address of \(subnet); valid: a device address in it" }
        return nil
    }

    /// A network prefix: host bits must be zero, so a typo like 192.168.10.1/24 is caught.
    static func network(_ s: String, _ path: @autoclosure () -> String, field: AddressField, _ p: inout Problems) -> IPPrefix? {
        switch IPPrefix.parse(s) {
        case .failure(let e):
            p.add(path(), prefixMessage(s, e))
            return nil
        case .success(let pre):
            if let why = hostBitsProblem(pre, text: s, field: field) {
                p.add(path(), why)
                return nil
            }
            if let why = field.problem(pre, text: "\(pre)") {
                p.add(path(), why)
                return nil
            }
            return pre
        }
    }

    /// Why `pre` (written `text`) is no network prefix for `field`: host bits set. The
    /// suggested network address is the one the field takes; when the field refuses its
    /// class, that is the problem reported (never a suggestion the next run refuses).
    public static func hostBitsProblem(_ pre: IPPrefix, text: String, field: AddressField) -> String? {
        guard pre.hasHostBits else { return nil }
        return field.problem(pre.network, text: text) ?? "\(text) has host bits set; valid: the network address \(pre.network)"
    }

    /// An interface address with its subnet length: the address itself must be a usable host.
    static func interfaceAddress(_ s: String, _ path: @autoclosure () -> String, _ p: inout Problems) -> IPPrefix? {
        switch IPPrefix.parse(s) {
        case .failure(let e):
            p.add(path(), prefixMessage(s, e))
            return nil
        case .success(let pre):
            let bits = pre.family.bitCount
            if let why = AddressField.innerAddress.problem(pre.address, length: pre.length, text: "\(pre.address)") {
                p.add(path(), why)
                return nil
            }
            if pre.length == bits {
                p.add(path(), "\(s) is a single address, which leaves no device subnet; valid: the device subnet's length, such as /9")
                return nil
            }
            if pre.address.isIPv6LinkLocal {
                p.add(path(), "\(s) is IPv6 link-local (fe80::/10), which the kernel manages itself; valid: a global or unique-local address such as fd00:10::fffe/64")
                return nil
            }
            if pre.length < bits - 1 {
                if !pre.hasHostBits {
                    p.add(path(), "\(s) is the subnet's network address; valid: a host address in \(pre.network) with its length, such as \(pre.network.lastAddress.family == .v4 ? "10.255.255.254/9" : "2001:db8::fffe/64")")
                    return nil
                }
                if pre.family == .v4, pre.address == pre.lastAddress {
                    p.add(path(), "\(s) is the subnet's broadcast address; valid: a host address in \(pre.network)")
                    return nil
                }
            }
            return pre
        }
    }

    private static func prefixMessage(_ s: String, _ e: IPPrefix.ParseError) -> String {
        switch e {
        case .missingLength: return "\(Echo.quoted(s)) has no prefix length; valid: ADDRESS/LENGTH such as 10.255.255.254/9"
        case .badAddress: return "\(Echo.quoted(s)) does not start with an IP address; valid: ADDRESS/LENGTH such as 192.168.10.0/24 or 2001:db8:10::/48"
        case .badLength(let max): return "\(Echo.quoted(s)) has a bad prefix length; valid: 0 to \(max)"
        }
    }
}

struct Problems {
    /// Problems kept with their text; a config of 32 MiB of `{}` links would otherwise
    /// hold several problems per three bytes of input.
    static let kept = 1000
    var list: [ConfigProblem] = []
    /// Problems found beyond `kept`.
    var more = 0
    /// Path and message are formatted only for problems that are kept, so the ones past
    /// `kept` cost a count, whatever their message would have had to look up.
    mutating func add(_ path: @autoclosure () -> String, _ message: @autoclosure () -> String) {
        if list.count < Problems.kept { list.append(ConfigProblem(path(), message())) } else { more += 1 }
    }
    var error: ConfigError { ConfigError(problems: list, more: more) }
}

/// Reads one JSON object, remembering which keys were consumed so that unknown keys
/// (typos) can be reported by `finish`.
struct ObjectReader {
    /// The object's JSON path, formatted only when a problem is reported: configs can
    /// hold 10,000s of routes and almost never have problems.
    let path: () -> String
    let members: [JSONValue.Member]

    init?(_ v: JSONValue, path: @escaping @autoclosure () -> String, _ p: inout Problems) {
        guard case .object(let m) = v else {
            let text = path()
            p.add(text.isEmpty ? "(top level)" : text, "is \(v.typeName); valid: an object { ... }")
            return nil
        }
        self.path = path
        self.members = m
    }

    /// The member's path; keys come from the file, so they are echoed as values.
    private func sub(_ key: String) -> String {
        let text = path()
        return text.isEmpty ? Echo.value(key) : "\(text).\(Echo.value(key))"
    }

    /// The member's value; nil when absent. An explicit null is reported (leave the field
    /// out for its default), so a half-edited file does not silently fall back.
    mutating func value(_ key: String, _ p: inout Problems) -> JSONValue? {
        guard let v = members.first(where: { $0.key == key })?.value else { return nil }
        if case .null = v {
            p.add(sub(key), "is null; leave the field out to use its default, or give a value")
            return nil
        }
        return v
    }

    mutating func string(_ key: String, required: Bool, _ p: inout Problems) -> String? {
        guard let v = value(key, &p) else {
            if required { p.add(sub(key), "is required") }
            return nil
        }
        guard case .string(let s) = v else { p.add(sub(key), "is \(v.typeName); valid: a string"); return nil }
        return s
    }

    mutating func bool(_ key: String, _ p: inout Problems) -> Bool? {
        guard let v = value(key, &p) else { return nil }
        guard case .bool(let b) = v else { p.add(sub(key), "is \(v.typeName); valid: true or false"); return nil }
        return b
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = false,
                          _ p: inout Problems, hint: String? = nil) -> Int? {
        guard let v = value(key, &p) else {
            if required { p.add(sub(key), "is required; valid: \(range.lowerBound)..\(range.upperBound)") }
            return nil
        }
        let extra = hint.map { " \($0)" } ?? ""
        guard case .number(let t) = v else {
            p.add(sub(key), "is \(v.typeName); valid: an integer \(range.lowerBound)..\(range.upperBound)\(extra)")
            return nil
        }
        guard let n = Int(t) else {
            let integral = t.drop(while: { $0 == "-" }).allSatisfy { $0.isASCII && $0.isNumber }
            p.add(sub(key), "\(Echo.value(t)) is \(integral ? "out of range" : "not an integer"); valid: \(range.lowerBound)..\(range.upperBound)\(extra)")
            return nil
        }
        guard range.contains(n) else {
            p.add(sub(key), "\(n) is out of range; valid: \(range.lowerBound)..\(range.upperBound)\(extra)")
            return nil
        }
        return n
    }

    mutating func array(_ key: String, required: Bool, _ p: inout Problems) -> [JSONValue]? {
        guard let v = value(key, &p) else {
            if required { p.add(sub(key), "is required; valid: an array [ ... ]") }
            return nil
        }
        guard case .array(let a) = v else { p.add(sub(key), "is \(v.typeName); valid: an array [ ... ]"); return nil }
        return a
    }

    func finish(_ p: inout Problems, known: [String]) {
        for m in members where !known.contains(m.key) {
            // The suggestion is worked out only for a problem that is kept (p.add's
            // message is an autoclosure): an object of 300,000 unknown keys costs lookups.
            p.add(sub(m.key), "unknown field\(ObjectReader.suggestion(m.key, known)); valid here: \(known.joined(separator: ", "))")
        }
    }

    /// " (did you mean "KEY"?)" when suggestedField finds one, else "".
    static func suggestion(_ key: String, _ known: [String]) -> String {
        suggestedField(key, known: known).map { " (did you mean \"\($0)\"?)" } ?? ""
    }
}

/// The known field an unknown key was probably meant to be: a field's standard term (VNI
/// for vxlanId), or a name at most 3 and at most half its length away in edits ("dport" ->
/// "ports" is 2 of 5), so that a short different word ("vni" is 3 edits from "mtu")
/// suggests nothing.
func suggestedField(_ key: String, known: [String]) -> String? {
    let terms = ["vni": "vxlanId", "vxlan": "vxlanId", "dstport": "port", "local": "outerIpAddress", "remote": "peers"]
    if key.utf8.count <= 16, let t = terms[key.lowercased()], known.contains(t) { return t }
    // The distance is at least the difference in length: a long key (a hostile file's
    // 50 MB one) is no typo of a field name and is not compared.
    let near = known.filter { abs($0.utf8.count - key.utf8.count) <= 3 }
    guard let close = near.min(by: { editDistance($0, key) < editDistance($1, key) }) else { return nil }
    let d = editDistance(close, key)
    return d <= 3 && 2 * d <= max(close.count, key.count) ? close : nil
}

func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.lowercased()), y = Array(b.lowercased())
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    for i in 1...x.count {
        var cur = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[y.count]
}
