/// Decodes and validates the `filter` section of a config: NAT, backends, inbound rules,
/// resolvers and the outbound groups with their rules, reporting every problem at once
/// to `Problems`, each with its JSON path and what is valid. The links decoder
/// (ConfigDecoder) calls it with the links that decoded, whose device subnets are the
/// groups' default sources.
enum FilterDecoder {
    /// The outbound groups compiled (ties and the rest of the policy semantics are the
    /// compiler's to find). Run once the document tree is gone: the compiler's arrays then
    /// reuse its memory instead of faulting in fresh pages (100,000 rules).
    static func compile(_ f: inout FilterConfig, path: String, _ p: inout Problems) {
        var compiled: [CompiledPolicy] = []
        for (i, g) in f.outbound.enumerated() {
            switch PolicyCompiler.compile(g) {
            case .success(let c): compiled.append(c)
            case .failure(let e):
                for problem in e.problems {
                    p.add("\(path).outbound[\(i)]" + (problem.path.isEmpty ? "" : ".\(problem.path)"), problem.message)
                }
            }
        }
        if compiled.count == f.outbound.count { f.compiled = compiled }
    }

    static func decode(_ v: JSONValue, links: [VPGLink]?, streamed: StreamedRules?, _ p: inout Problems) -> FilterConfig? {
        let path = "filter"
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        var ok = true
        var f = FilterConfig()
        if let u = o.string("uplinkDevice", required: false, &p) {
            f.uplinkDevice = FieldReader.interfaceName(u, "\(path).uplinkDevice", &p)
            if f.uplinkDevice == nil { ok = false }
            if let links, links.contains(where: { $0.name == u }) {
                p.add("\(path).uplinkDevice", "\(Echo.quoted(u)) is a tunnel link of ours; valid: the interface toward the internet"); ok = false
            }
        }
        let natText = o.string("nat", required: false, &p) ?? "masquerade"
        let snatText = o.string("snatAddress", required: false, &p)
        switch natText {
        case "masquerade": f.nat = .masquerade
        case "none": f.nat = .none
        case "snat":
            if let t = snatText, let a = FieldReader.hostAddress(t, "\(path).snatAddress", field: .snatAddress, &p) { f.nat = .snat(a) } else {
                if snatText == nil { p.add("\(path).snatAddress", "is required when nat is \"snat\"; valid: the IPv4 or IPv6 host address the outbound flows are translated to") }
                ok = false
            }
        default:
            p.add("\(path).nat", "\(Echo.quoted(natText)) is not a NAT mode; valid: masquerade, snat (with snatAddress), none"); ok = false
        }
        if snatText != nil && natText != "snat" {
            p.add("\(path).snatAddress", "is only used with \"nat\": \"snat\" (nat is \(Echo.quoted(natText))); valid: \"nat\": \"snat\" with it, or no snatAddress"); ok = false
        }
        if f.nat != .none && f.uplinkDevice == nil && o.members.contains(where: { $0.key == "uplinkDevice" }) == false {
            p.add("\(path).uplinkDevice", "is required for NAT (nat is \(Echo.quoted(natText))); or set \"nat\": \"none\""); ok = false
        }
        f.mssClamp = o.bool("mssClamp", &p) ?? true
        f.logDrops = o.bool("logDrops", &p) ?? true
        if let items = o.array("backendPrefixes", required: false, &p) {
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else { p.add("\(path).backendPrefixes[\(i)]", "is \(item.typeName); valid: a prefix such as 172.31.0.0/24"); ok = false; continue }
                if let pre = FieldReader.network(s, "\(path).backendPrefixes[\(i)]", field: .backendPrefix, &p) { f.backendPrefixes.append(pre) } else { ok = false }
            }
        }
        if let items = o.array("inbound", required: false, &p) {
            var rules: [InboundRule] = []
            for (i, item) in items.enumerated() {
                let rp = "\(path).inbound[\(i)]"
                guard let r = ObjectReader(item, path: rp, &p) else { ok = false; continue }
                let from = r.string("from", required: true, &p).flatMap { FieldReader.network($0, "\(rp).from", field: .filterMatch, &p) }
                let proto = FieldReader.protocolMatch(r, path: rp, &p)
                let ports = FieldReader.ports(r, path: rp, protocolMatch: proto, &p)
                r.finish(&p, known: ["from", "protocol", "ports"])
                if let from, let proto, let ports { rules.append(InboundRule(from: from, protocolMatch: proto, ports: ports)) } else { ok = false }
            }
            f.inbound = rules
        }
        // Problems found in `resolvers` itself: then it is not also "required" below.
        let problemsBeforeResolvers = p.list.count + p.more
        if let items = o.array("resolvers", required: false, &p) {
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item, let a = FieldReader.hostAddress(s, "\(path).resolvers[\(i)]", field: .resolver, &p) else {
                    if case .string = item {} else { p.add("\(path).resolvers[\(i)]", "is \(item.typeName); valid: an IP address") }
                    ok = false; continue
                }
                f.resolvers.append(a)
            }
        }
        let resolversRefused = p.list.count + p.more > problemsBeforeResolvers
        f.domainSlackSeconds = o.integer("domainSlackSeconds", in: 0...86400, &p) ?? 300
        f.maxAddressesPerName = o.integer("maxAddressesPerName", in: 1...1024, &p) ?? 16
        f.dnsForwarder = o.bool("dnsForwarder", &p)
        let deviceSubnets = links?.map(\.deviceSubnet) ?? []
        if let items = o.array("outbound", required: false, &p) {
            var names: [String: Int] = [:]
            for (i, item) in items.enumerated() {
                let gp = "\(path).outbound[\(i)]"
                guard let g = decodeGroup(item, path: gp, deviceSubnets: deviceSubnets, streamed: streamed?.groups[i], &p) else { ok = false; continue }
                if let first = names[g.name] {
                    p.add("\(gp).name", "\(Echo.quoted(g.name)) is already the name of \(path).outbound[\(first)]"); ok = false; continue
                }
                names[g.name] = i
                f.outbound.append(g)
            }
        } else {
            // No groups: devices reach the backends and nothing else.
            f.outbound = [OutboundGroup(name: "default", sources: deviceSubnets, defaultAction: .deny)]
        }
        // A device belongs to one group: sources may not overlap across groups.
        // One sweep over all sources (not group x group x source x source); each source
        // is reported once, naming the first earlier group it overlaps.
        let sources = f.outbound.enumerated().flatMap { gi, g in g.sources.map { PrefixOverlap.Item(prefix: $0, owner: gi, member: true) } }
        for (item, owners) in zip(sources, PrefixOverlap.owners(sources)) {
            guard let j = owners.first(except: item.owner), j < item.owner else { continue }
            let b = f.outbound[j], sa = item.prefix
            p.add("\(path).outbound[\(item.owner)].sources", "\(sa) overlaps \(b.sources.first(where: { $0.overlaps(sa) })!) of \(path).outbound[\(j)] (\(Echo.quoted(b.name))); a device belongs to one group")
            ok = false
        }
        // Learned addresses of one group share maps keyed by address . protocol . port
        // range; nft refuses partly overlapping ranges there (identical ones share a key).
        // Sorted per protocol, each distinct range is checked against the one reaching
        // highest before it: n log n in the ranges. A clash is reported once, at the first
        // rule with the later-starting range.
        for (gi, g) in f.outbound.enumerated() {
            var first: [PortKey: Int] = [:]
            for (k, r) in g.rules.enumerated() {
                guard case .domain = r.destination else { continue }
                for range in r.ports where first[PortKey(proto: r.protocolMatch, range: range)] == nil {
                    first[PortKey(proto: r.protocolMatch, range: range)] = k
                }
            }
            let sorted = first.keys.sorted { ($0.protoKey, $0.range.low, $0.range.high) < ($1.protoKey, $1.range.low, $1.range.high) }
            var reach: PortKey? = nil
            for key in sorted {
                if let c = reach, c.proto == key.proto, c.range.high >= key.range.low {
                    let k = first[key]!, ck = first[c]!
                    p.add("\(path).outbound[\(gi)].rules[\(k)].ports", "\(key.range.low)-\(key.range.high) partly overlaps \(c.range.low)-\(c.range.high) of \(ck == k ? "this rule" : "rules[\(ck)]"); domain rules of a group need identical or disjoint port ranges")
                    ok = false
                }
                if reach == nil || reach!.proto != key.proto || key.range.high > reach!.range.high { reach = key }
            }
        }
        let usesDomains = f.outbound.contains { $0.rules.contains { if case .domain = $0.destination { return true } else { return false } } }
        if (usesDomains || f.dnsForwarder == true) && f.resolvers.isEmpty && !resolversRefused {
            p.add("\(path).resolvers", "is required when a rule names a domain or dnsForwarder is on; valid: DNS server addresses such as [\"203.0.113.53\"]"); ok = false
        }
        o.finish(&p, known: ["uplinkDevice", "nat", "snatAddress", "mssClamp", "logDrops", "backendPrefixes", "inbound",
                             "outbound", "resolvers", "domainSlackSeconds", "maxAddressesPerName", "dnsForwarder"])
        return ok ? f : nil
    }

    static func decodeGroup(_ v: JSONValue, path: String, deviceSubnets: [IPPrefix], streamed: [StreamedRules.Item]?,
                            _ p: inout Problems) -> OutboundGroup? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        var ok = true
        let name = o.string("name", required: true, &p)
        if let n = name, n.isEmpty || n.count > 32 || !n.utf8.allSatisfy({ FieldReader.isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) {
            p.add("\(path).name", "\(Echo.quoted(n)) is not a usable group name; valid: 1 to 32 characters of A-Z a-z 0-9 _ -"); ok = false
        }
        var sources: [IPPrefix] = []
        if let items = o.array("sources", required: false, &p) {
            if items.isEmpty { p.add("\(path).sources", "is empty; leave it out to mean every link's device subnet"); ok = false }
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else { p.add("\(path).sources[\(i)]", "is \(item.typeName); valid: a prefix"); ok = false; continue }
                if let pre = FieldReader.network(s, "\(path).sources[\(i)]", field: .filterMatch, &p) { sources.append(pre) } else { ok = false }
            }
        } else {
            sources = deviceSubnets
        }
        var defaultAction = FilterAction.deny
        if let d = o.string("default", required: false, &p) {
            if let a = FilterAction(rawValue: d) { defaultAction = a } else {
                p.add("\(path).default", "\(Echo.quoted(d)) is not an action; valid: allow, deny"); ok = false
            }
        }
        var rules: [OutboundRule] = []
        if let items = o.array("rules", required: false, &p) {
            // Read while parsing (StreamedRules; the tree holds an empty array then): plain
            // rules come decoded, the others as their JSON values.
            let read: [StreamedRules.Item] = items.isEmpty ? (streamed ?? []) : items.map { .value($0) }
            rules.reserveCapacity(read.count)
            for (i, item) in read.enumerated() {
                switch item {
                case .plain(let r): rules.append(r)
                case .value(let v):
                    if let r = decodeOutboundRule(v, path: "\(path).rules[\(i)]", &p) { rules.append(r) } else { ok = false }
                }
            }
        }
        o.finish(&p, known: ["name", "sources", "default", "rules"])
        guard ok, let name else { return nil }
        return OutboundGroup(name: name, sources: sources, defaultAction: defaultAction, rules: rules)
    }

    static let ruleFields = ["action", "destination", "domain", "protocol", "ports"]

    /// The common shape of a rule, an action and a destination prefix (and perhaps a
    /// protocol name), as StreamedRules reads it without a JSON object: a policy can hold
    /// 100,000 of them. Anything else, or anything wrong, goes to decodeOutboundRule,
    /// which reports the problem. Each key is taken once.
    struct PlainFields {
        var action: String?, destination: String?, proto: String?

        mutating func take(_ key: String, _ value: String) -> Bool {
            switch key {
            case "action" where action == nil: action = value
            case "destination" where destination == nil: destination = value
            case "protocol" where proto == nil: proto = value
            default: return false
            }
            return true
        }

        var rule: OutboundRule? {
            guard let a = action.flatMap(FilterAction.init(rawValue:)), let d = destination,
                  case .success(let pre) = IPPrefix.parse(d), !pre.hasHostBits,
                  AddressField.filterMatch.problem(pre, text: "") == nil else { return nil }  // the full decoder says why
            var pm = ProtocolMatch.any
            if let p = proto {
                guard let m = ProtocolMatch.parse(p), DecimalText.parse(p, in: 0...255) == nil else { return nil }
                pm = m
            }
            return OutboundRule(action: a, destination: .prefix(pre), protocolMatch: pm, ports: [])
        }
    }

    static func decodeOutboundRule(_ v: JSONValue, path: @escaping @autoclosure () -> String, _ p: inout Problems) -> OutboundRule? {
        guard let o = ObjectReader(v, path: path(), &p) else { return nil }
        var ok = true
        var action: FilterAction? = nil
        if let a = o.string("action", required: true, &p) {
            action = FilterAction(rawValue: a)
            if action == nil { p.add("\(path()).action", "\(Echo.quoted(a)) is not an action; valid: allow, deny"); ok = false }
        } else { ok = false }
        let destText = o.string("destination", required: false, &p)
        let domainText = o.string("domain", required: false, &p)
        var destination: RuleDestination? = nil
        switch (destText, domainText) {
        case (let d?, nil):
            if let pre = FieldReader.network(d, "\(path()).destination", field: .filterMatch, &p) { destination = .prefix(pre) } else { ok = false }
        case (nil, let n?):
            if let d = domainPattern(n, "\(path()).domain", &p) { destination = .domain(d) } else { ok = false }
        case (nil, nil):
            p.add("\(path()).destination", "is required (or \"domain\"); valid: a prefix such as 203.0.113.0/24, or 0.0.0.0/0 for anywhere"); ok = false
        default:
            p.add("\(path()).domain", "give \"destination\" or \"domain\", not both"); ok = false
        }
        let proto = FieldReader.protocolMatch(o, path: path(), &p)
        let ports = FieldReader.ports(o, path: path(), protocolMatch: proto, &p)
        o.finish(&p, known: ruleFields)
        guard ok, let action, let destination, let proto, let ports else { return nil }
        return OutboundRule(action: action, destination: destination, protocolMatch: proto, ports: ports)
    }

    /// Lowercase LDH labels, at most 253 characters; `*.` only as the whole first label.
    static func domainPattern(_ s: String, _ path: String, _ p: inout Problems) -> DomainPattern? {
        var text = s.lowercased()
        if text.hasSuffix(".") { text.removeLast() }
        var wildcard = false
        if text.hasPrefix("*.") { wildcard = true; text.removeFirst(2) }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        if text.contains("*") {
            p.add(path, "\(Echo.quoted(s)) has a wildcard that is not the whole first label; valid: api.example.com or *.example.com")
            return nil
        }
        let good = !text.isEmpty && text.count <= 253 && labels.count >= 2 && labels.allSatisfy { l in
            !l.isEmpty && l.count <= 63 && l.first != "-" && l.last != "-"
                && l.utf8.allSatisfy { FieldReader.isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
        if !good {
            p.add(path, "\(Echo.quoted(s)) is not a domain name; valid: letters, digits and hyphens in dot-separated labels, such as api.example.com")
            return nil
        }
        return DomainPattern(name: text, wildcard: wildcard)
    }
}

/// A domain rule's protocol and port range, to find partly overlapping ranges.
private struct PortKey: Hashable {
    let proto: ProtocolMatch
    let range: PortRange
    var protoKey: Int {
        if case .number(let n) = proto { return Int(n) }
        return -1
    }
}
