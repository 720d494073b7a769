/// Decodes and checks the `ha` section against the links it makes redundant, reporting
/// every problem to `Problems` with its path and what would be valid, like every other
/// decoder. Run by ConfigDecoder once the links decoded.
enum HADecoder {
    static let known = ["mode", "nodeAddress", "peerAddress", "virtualRouterId", "priority", "peerPriority",
                        "advertIntervalMs", "preempt", "preemptDelaySeconds", "backend", "hook", "health", "conntrackd"]

    /// The section at `path` ("ha"); `links` nil when they did not decode (the section's
    /// own fields are still checked), `macGiven[i]`: whether links[i] wrote its `mac`;
    /// `filter` the decoded filter section, whose snat address (nat "snat") moves too.
    static func decode(_ v: JSONValue, path: String, links: [VPGLink]?, filter: FilterConfig? = nil, macGiven: [Bool], _ p: inout Problems) -> HAConfig? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        let found = p.list.count + p.more
        var mode: HAConfig.Mode? = .movingIdentity
        if let m = o.string("mode", required: false, &p) {
            mode = HAConfig.Mode(rawValue: m)
            if mode == nil {
                let b = m == "two-peers" ? " (mode B, two registered peers, is not built yet)" : ""
                p.add("\(path).mode", "\(Echo.quoted(m)) is not a mode\(b); valid: \(HAConfig.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        let node = o.string("nodeAddress", required: true, &p).flatMap { FieldReader.interfaceAddress($0, "\(path).nodeAddress", &p) }
        let peer = o.string("peerAddress", required: true, &p).flatMap { FieldReader.hostAddress($0, "\(path).peerAddress", field: .outerAddress, &p) }
        let vrid = o.integer("virtualRouterId", in: 1...255, required: true, &p, hint: "(VRRP's router id; both nodes the same)")
        let priority = o.integer("priority", in: 1...254, required: true, &p, hint: "(255 is VRRP's address owner, which never yields)")
        let peerPriority = o.integer("peerPriority", in: 1...254, &p)
        let advert = o.integer("advertIntervalMs", in: HAConfig.advertIntervalRange, &p, hint: "(in steps of 10 ms: VRRPv3 counts centiseconds)")
        let preempt = o.bool("preempt", &p) ?? false
        let delay = o.integer("preemptDelaySeconds", in: 1...1000, &p, hint: "(keepalived's preempt_delay)")
        var backend: HAConfig.VirtualAddress?? = .some(nil)
        if let b = o.value("backend", &p) { backend = decodeBackend(b, path: "\(path).backend", &p) }
        var hook: HAConfig.Hook?? = .some(nil)
        if let h = o.value("hook", &p) { hook = decodeHook(h, path: "\(path).hook", &p) }
        var health: HAConfig.Health? = .default
        if let h = o.value("health", &p) { health = decodeHealth(h, path: "\(path).health", &p) }
        var conntrackd: HAConfig.Conntrackd?? = .some(nil)
        if let c = o.value("conntrackd", &p) { conntrackd = decodeConntrackd(c, path: "\(path).conntrackd", &p) }
        o.finish(&p, known: known)

        if let advert, advert % 10 != 0 {
            p.add("\(path).advertIntervalMs", "\(advert) is not a multiple of 10; valid: \(HAConfig.advertIntervalRange.lowerBound)..\(HAConfig.advertIntervalRange.upperBound) in steps of 10 (VRRPv3 counts centiseconds; keepalived would round it)")
        }
        if let priority, let peerPriority, priority == peerPriority {
            p.add("\(path).peerPriority", "\(peerPriority) equals priority; valid: a different priority (with equal priorities VRRP elects by address, which nobody chose; to keep a master where it is, use preempt false)")
        }
        if let delay, !preempt {
            p.add("\(path).preemptDelaySeconds", "\(delay) needs preempt true; valid: preempt true with it, or no preemptDelaySeconds (with preempt false, keepalived's nopreempt, a recovered node never takes the master back, so there is nothing to delay)")
        }
        if let node, let peer {
            if peer.family != node.family {
                p.add("\(path).peerAddress", "\(peer) is \(peer.family.name) but nodeAddress \(node.address) is \(node.family.name); valid: the same family (keepalived's unicast peers)")
            } else if peer == node.address {
                p.add("\(path).peerAddress", "\(peer) is this node's own nodeAddress; valid: the other node's own address")
            } else if !node.network.contains(peer) {
                p.add("\(path).peerAddress", "\(peer) is outside nodeAddress's subnet \(node.network); valid: the other node's address on the same segment (mode moving-identity moves the outer address between the two nodes' NICs, which a cloud only allows within one subnet)")
            } else if let why = subnetEdge(peer, node.network) {
                p.add("\(path).peerAddress", "\(peer) is \(why); valid: the other node's own address")
            }
        }
        if let health {
            checkWeight(health.weight, priority: priority, peerPriority: peerPriority, preempt: preempt, path: "\(path).health.weight", &p)
        }
        guard let links else { return nil }
        if links.isEmpty {
            p.add(path, "there are no links to make redundant; valid: ha with at least one link")
            return nil
        }
        let interface = links[0].underlayDevice
        if let vrid, vrid + instanceCount(links, backend: backend ?? nil) - 1 > 255 {
            p.add("\(path).virtualRouterId", "\(vrid) leaves no room for \(instanceCount(links, backend: backend ?? nil)) instances (one per link and one for the backend next hop, ids \(vrid) and up); valid: at most \(256 - instanceCount(links, backend: backend ?? nil))")
        }
        var moving: [IPAddress: String] = [:]
        for (i, l) in links.enumerated() {
            checkLink(l, i, interface: interface, node: node, peer: peer, macGiven: i < macGiven.count && macGiven[i], &p)
            if let first = moving[l.outerIpAddress] {
                p.add("links[\(i)].outerIpAddress", "\(l.outerIpAddress) is already \(first)'s; valid: an outer address of this link's own (with ha each link's instance moves its own address)")
            }
            moving[l.outerIpAddress] = "links[\(i)].outerIpAddress"
        }
        if let b = backend ?? nil {
            checkBackend(b, interface: interface, node: node, peer: peer, links: links, path: "\(path).backend", &p)
        }
        if let c = conntrackd ?? nil, let l = links.first(where: { $0.port == c.port }) {
            p.add("\(path).conntrackd.port", "\(c.port) is link \(l.name)'s VXLAN port too (both are UDP on the same node); valid: another port, e.g. \(HAConfig.Conntrackd.defaultPort)")
        }
        let snat = HAConfig.snatAddress(filter)
        if let snat {
            checkSnat(snat.prefix.address, node: node, peer: peer, links: links, backend: backend ?? nil, &p)
        }
        guard p.list.count + p.more == found, let mode, let node, let peer, let vrid, let priority,
              let backend, let hook, let health, let conntrackd else { return nil }
        return HAConfig(mode: mode, interface: interface, nodeAddress: node, peerAddress: peer, virtualRouterId: vrid,
                        priority: priority, peerPriority: peerPriority, advertIntervalMs: advert ?? 1000, preempt: preempt,
                        preemptDelaySeconds: delay, backend: backend, hook: hook, health: health, conntrackd: conntrackd, snat: snat)
    }

    private static func instanceCount(_ links: [VPGLink], backend: HAConfig.VirtualAddress?) -> Int {
        links.count + (backend == nil ? 0 : 1)
    }

    /// A link made redundant in mode A: its outer address is a virtual address in the
    /// node's subnet on the one VRRP interface, its MAC is written out (both nodes keep
    /// one), and its peers can be judged by `gatepeer health`.
    private static func checkLink(_ l: VPGLink, _ i: Int, interface: String, node: IPPrefix?, peer: IPAddress?, macGiven: Bool, _ p: inout Problems) {
        if l.underlayDevice != interface {
            p.add("links[\(i)].underlayDevice", "\"\(l.underlayDevice)\" is not links[0]'s \"\(interface)\"; valid: \"\(interface)\" (with ha, mode moving-identity, every link's outer address moves on one underlay device, where keepalived runs)")
        }
        if let node {
            let outer = l.outerIpAddress
            if outer.family != node.family || !node.network.contains(outer) {
                p.add("links[\(i)].outerIpAddress", "\(outer) is outside ha.nodeAddress's subnet \(node.network); valid: a host address of \(node.network) (with ha keepalived adds it to \(interface) as ADDRESS/\(node.length))")
            } else if outer == node.address {
                p.add("links[\(i)].outerIpAddress", "\(outer) is ha.nodeAddress, this node's own address; valid: the address that moves between the nodes (registered with the VPG), not either node's own")
            } else if outer == peer {
                p.add("links[\(i)].outerIpAddress", "\(outer) is ha.peerAddress, the other node's own address; valid: the address that moves between the nodes")
            } else if let why = subnetEdge(outer, node.network) {
                p.add("links[\(i)].outerIpAddress", "\(outer) is \(why); valid: a host address in it")
            }
        }
        if !macGiven {
            p.add("links[\(i)].mac", "is required with ha; valid: the same MAC written in both nodes' files, e.g. this link's derived default \(l.mac) (both nodes present one identity to the VPG)")
        }
        if !l.liveness.enabled {
            p.add("links[\(i)].liveness.enabled", "false leaves gatepeer health nothing to judge the link by; valid: true (the default): with ha the VPG gate peers must be probed")
        } else if !l.peers.contains(where: { $0.probeTarget != nil }) {
            p.add("links[\(i)].peers", "no peer has an innerIpAddress or probeAddress, so none is probed; valid: at least one peer with a probe target (with ha gatepeer health judges the link by its gate peers)")
        }
    }

    private static func checkBackend(_ b: HAConfig.VirtualAddress, interface: String, node: IPPrefix?, peer: IPAddress?, links: [VPGLink], path: String, _ p: inout Problems) {
        let a = b.prefix.address
        if a == node?.address || a == peer {
            p.add("\(path).address", "\(a) is \(a == peer ? "ha.peerAddress, the other node's" : "ha.nodeAddress, this node's") own address; valid: an address that moves to whichever node is master")
        } else if let i = links.firstIndex(where: { $0.outerIpAddress == a }) {
            p.add("\(path).address", "\(a) is links[\(i)].outerIpAddress, which moves already; valid: an address no link has, or no backend (route the backends to \(a))")
        } else if links.contains(where: { $0.name == b.device }) {
            p.add("\(path).device", "\"\(b.device)\" is one of gatepeer's vxlan links; valid: the device facing the backends")
        } else if b.device == interface, let node, b.prefix.network != node.network {
            p.add("\(path).address", "\(b.prefix) is outside \(interface)'s subnet \(node.network) (ha.nodeAddress); valid: an address of that subnet with its length, or another device")
        }
    }

    /// The floating SNAT address must be nobody's own and no other moving address: keepalived
    /// would take a node's own address away on the backup, or move one address twice.
    private static func checkSnat(_ a: IPAddress, node: IPPrefix?, peer: IPAddress?, links: [VPGLink], backend: HAConfig.VirtualAddress?, _ p: inout Problems) {
        let path = "filter.snatAddress"
        if a == node?.address || a == peer {
            p.add(path, "\(a) is \(a == peer ? "ha.peerAddress, the other node's" : "ha.nodeAddress, this node's") own address; with ha the snat address moves to whichever node is master, so valid: an address neither node holds of its own")
        } else if let i = links.firstIndex(where: { $0.outerIpAddress == a || $0.innerIpAddress.address == a }) {
            p.add(path, "\(a) is an address of links[\(i)], which moves already; valid: an address of its own on filter.uplinkDevice")
        } else if a == backend?.prefix.address {
            p.add(path, "\(a) is ha.backend.address, which moves already; valid: an address of its own on filter.uplinkDevice")
        }
    }

    /// A weight that cannot move the master is refused: with nopreempt keepalived ignores
    /// priority changes, and with known priorities a failing master must end below the
    /// healthy backup.
    private static func checkWeight(_ w: Int, priority: Int?, peerPriority: Int?, preempt: Bool, path: String, _ p: inout Problems) {
        guard w != 0 else { return }
        if !preempt {
            p.add(path, "\(w) with preempt false never moves the master: keepalived's nopreempt ignores priority changes; valid: 0 (a failing check puts the node in FAULT, which gives the addresses up), or preempt true")
            return
        }
        guard let priority, let peerPriority else { return }
        let failingHigh = max(priority, peerPriority) + min(w, 0), healthyLow = min(priority, peerPriority) + max(w, 0)
        if failingHigh >= healthyLow {
            p.add(path, "\(w) cannot bring a failing node of priority \(max(priority, peerPriority)) below a healthy one of \(min(priority, peerPriority)) (\(failingHigh) >= \(healthyLow)); valid: a weight whose size exceeds the priorities' difference \(abs(priority - peerPriority)), or 0 (FAULT)")
        }
    }

    /// "the network address of N" or "the broadcast address of N" when `a` is one of
    /// those of `subnet` (for lengths that have them), else nil.
    private static func subnetEdge(_ a: IPAddress, _ subnet: IPPrefix) -> String? {
        guard subnet.length < subnet.family.bitCount - 1 else { return nil }
        if a == subnet.address.masked(subnet.length) { return "the network address of \(subnet)" }
        if subnet.family == .v4, a == subnet.lastAddress { return "the broadcast address of \(subnet)" }
        return nil
    }

    private static func decodeBackend(_ v: JSONValue, path: String, _ p: inout Problems) -> HAConfig.VirtualAddress?? {
        guard let o = ObjectReader(v, path: path, &p) else { return .none }
        let device = o.string("device", required: true, &p).flatMap { FieldReader.interfaceName($0, "\(path).device", &p) }
        let address = o.string("address", required: true, &p).flatMap { FieldReader.interfaceAddress($0, "\(path).address", &p) }
        o.finish(&p, known: ["device", "address"])
        guard let device, let address else { return .none }
        return .some(HAConfig.VirtualAddress(prefix: address, device: device))
    }

    private static func decodeHook(_ v: JSONValue, path: String, _ p: inout Problems) -> HAConfig.Hook?? {
        guard let o = ObjectReader(v, path: path, &p) else { return .none }
        let file = o.string("path", required: true, &p)
        let timeout = o.integer("timeoutSeconds", in: 1...600, &p, hint: "(then the hook is killed and counted as failed)")
        o.finish(&p, known: ["path", "timeoutSeconds"])
        guard let file else { return .none }
        guard let f = executablePath(file, "\(path).path", &p) else { return .none }
        return .some(HAConfig.Hook(path: f, timeoutSeconds: timeout ?? 30))
    }

    private static func decodeHealth(_ v: JSONValue, path: String, _ p: inout Problems) -> HAConfig.Health? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        let d = HAConfig.Health.default
        let found = p.list.count + p.more
        let interval = o.integer("intervalSeconds", in: 1...3600, &p, hint: "(keepalived runs scripts at whole seconds)")
        let timeout = o.integer("timeoutSeconds", in: 1...3600, &p)
        let rise = o.integer("rise", in: 1...100, &p, hint: "(successes in a row that make the check OK)")
        let fall = o.integer("fall", in: 1...100, &p, hint: "(failures in a row that make the check KO)")
        let weight = o.integer("weight", in: -253...253, &p, hint: "(keepalived's range; 0: a failing check means FAULT)")
        let holdDown = o.integer("holdDownSeconds", in: 0...3600, &p, hint: "(seconds a node that faulted stays unhealthy; 0: off)")
        o.finish(&p, known: ["intervalSeconds", "timeoutSeconds", "rise", "fall", "weight", "holdDownSeconds"])
        if p.list.count + p.more != found { return nil }
        return HAConfig.Health(intervalSeconds: interval ?? d.intervalSeconds, timeoutSeconds: timeout ?? d.timeoutSeconds,
                               rise: rise ?? d.rise, fall: fall ?? d.fall, weight: weight ?? d.weight,
                               holdDownSeconds: holdDown ?? d.holdDownSeconds)
    }

    private static func decodeConntrackd(_ v: JSONValue, path: String, _ p: inout Problems) -> HAConfig.Conntrackd?? {
        guard let o = ObjectReader(v, path: path, &p) else { return .none }
        let port = o.integer("port", in: 1...65535, &p, hint: "(the UDP sync port on both nodes)")
        let found = p.list.count + p.more
        typealias C = HAConfig.Conntrackd
        let config = filePath(o, "configPath", path: path, default: C.defaultConfigPath, &p)
        let lock = filePath(o, "lockFile", path: path, default: C.defaultLockFile, &p)
        let socket = filePath(o, "socketPath", path: path, default: C.defaultSocketPath, &p)
        o.finish(&p, known: ["port", "configPath", "lockFile", "socketPath"])
        if let socket, socket.utf8.count > C.socketPathLimit {
            p.add("\(path).socketPath", "\(Echo.quoted(socket)) is \(socket.utf8.count) bytes; valid: an absolute path of at most \(C.socketPathLimit) bytes (a UNIX socket's sun_path)")
        }
        if let lock, let socket, lock == socket {
            p.add("\(path).socketPath", "\(Echo.quoted(socket)) is lockFile too; valid: a path of its own (conntrackd locks one file and listens on the other)")
        }
        if let lock, let config, lock == config {
            p.add("\(path).lockFile", "\(Echo.quoted(lock)) is configPath too; valid: a path of its own")
        }
        if let socket, let config, socket == config {
            p.add("\(path).socketPath", "\(Echo.quoted(socket)) is configPath too; valid: a path of its own (conntrackd would replace its config file with its socket)")
        }
        guard p.list.count + p.more == found, let config, let lock, let socket else { return .none }
        return .some(C(port: port.map(UInt16.init) ?? C.defaultPort, configPath: config, lockFile: lock, socketPath: socket))
    }

    /// The absolute path in field `key` of `o` (at `path`), `default` when it is absent,
    /// nil after reporting a bad one.
    private static func filePath(_ o: ObjectReader, _ key: String, path: String, default d: String, _ p: inout Problems) -> String? {
        guard let s = o.string(key, required: false, &p) else {
            return o.members.contains(where: { $0.key == key }) ? nil : d
        }
        return executablePath(s, "\(path).\(key)", &p)
    }

    /// An absolute path without control characters, quotes, backslashes or spaces (it
    /// goes into keepalived.conf and onto command lines), no `..` component.
    private static func executablePath(_ s: String, _ path: String, _ p: inout Problems) -> String? {
        let bad = s.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7f || $0 == "\"" || $0 == "\\" || $0 == "'" }
        guard s.hasPrefix("/"), !s.hasSuffix("/"), !bad, s.utf8.count < 4096, !s.split(separator: "/").contains(where: { $0 == ".." }) else {
            p.add(path, "\(Echo.quoted(s)) is not usable; valid: an absolute file path without spaces, quotes, backslashes, control characters or \"..\"")
            return nil
        }
        return s
    }
}
