/// Addresses learned for domain names, each kept until its own expiry (TTL + slack from
/// the answer that last contained it). An address that drops out of an answer is not
/// removed early: clients may still use it from their own caches and live flows must
/// not break. A failed lookup changes nothing; the old answer simply runs out.
public struct LearnedAddresses: Equatable, Sendable {
    /// One learned address of a name and when it runs out.
    public struct Entry: Equatable, Sendable {
        /// An address from an A or AAAA answer.
        public var address: IPAddress
        /// Unix time in seconds: the answer's TTL plus the filter's domain slack, from the
        /// last answer that contained the address.
        public var expires: Int64
        /// `expires`: Unix time in seconds.
        public init(address: IPAddress, expires: Int64) { self.address = address; self.expires = expires }
    }

    /// Lowercased names without the trailing dot.
    public var names: [String: [Entry]]

    /// `names`: lowercased names without the trailing dot, each with its entries.
    public init(names: [String: [Entry]] = [:]) { self.names = names }

    /// Merges one answer for `name`: addresses in it get now + ttl + slack (never less than
    /// they had). A name keeps at most `cap` addresses of each family. A new address beyond
    /// that takes the place of one whose TTL has run out (kept only for its slack, the
    /// soonest to expire) that this answer does not carry; when there is none, the new
    /// address is not learned: addresses devices may still hold from an earlier answer are
    /// never dropped early. Returns the answer's addresses the name keeps now.
    @discardableResult
    public mutating func merge(name: String, answer: [(IPAddress, UInt32)], now: Int64, slack: Int, cap: Int) -> Set<IPAddress> {
        var entries = (names[name] ?? []).filter { $0.expires > now }
        let carried = Set(answer.map(\.0))
        var kept = Set<IPAddress>()
        for (address, ttl) in answer {
            let expires = now + Int64(ttl) + Int64(slack)
            if let i = entries.firstIndex(where: { $0.address == address }) {
                entries[i].expires = max(entries[i].expires, expires)
                kept.insert(address)
                continue
            }
            if entries.filter({ $0.address.family == address.family }).count >= cap {
                let spent = entries.indices.filter {
                    entries[$0].address.family == address.family && entries[$0].expires - Int64(slack) <= now && !carried.contains(entries[$0].address)
                }
                guard let oldest = spent.min(by: { entries[$0].expires < entries[$1].expires }) else { continue }
                entries.remove(at: oldest)
            }
            entries.append(Entry(address: address, expires: expires))
            kept.insert(address)
        }
        names[name] = entries.isEmpty ? nil : entries
        return kept
    }

    /// What the DNS forwarder may tell a device about `name` now (after merging the
    /// answer): every live address, with a TTL that ends at least a second before its
    /// element times out in the kernel; and, for an answer none of whose addresses is
    /// kept, the addresses still inside the TTL they were learned with.
    public func trim(name: String, now: Int64, slack: Int) -> DNSTrim {
        let live = (names[name] ?? []).filter { $0.expires > now }
        var keep: [IPAddress: UInt32] = [:]
        for e in live { keep[e.address] = UInt32(clamping: e.expires - now - 1) }
        let instead = live.filter { $0.expires - Int64(slack) > now }.sorted { $0.expires > $1.expires }
            .map { DNSRecord(address: $0.address, ttl: UInt32(clamping: min($0.expires - Int64(slack), $0.expires - 1) - now)) }
        return DNSTrim(keep: keep, instead: instead)
    }

    /// Names the daemon keeps at most (limitNames), so a flood of answers for distinct
    /// names cannot grow the state file and the kernel's sets without bound.
    public static let maxNames = 4096

    /// Keeps the `limit` names that stay longest.
    public mutating func limitNames(_ limit: Int) {
        guard names.count > limit else { return }
        let keep = names.sorted { ($0.value.map(\.expires).max() ?? 0, $0.key) > ($1.value.map(\.expires).max() ?? 0, $1.key) }.prefix(limit)
        names = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
    }

    /// Drops entries whose expiry (seconds since the epoch) is not after `now`, and names left empty.
    public mutating func prune(now: Int64) {
        for (n, e) in names {
            let live = e.filter { $0.expires > now }
            names[n] = live.isEmpty ? nil : live
        }
    }

    /// The live entries of every name the pattern matches (exact, or `*.` for subdomains).
    public func addresses(matching pattern: DomainPattern, now: Int64) -> [Entry] {
        names.filter { pattern.matches($0.key) }.flatMap(\.value).filter { $0.expires > now }
    }

    // MARK: state file

    /// The state file (learned.json): `{"names": {NAME: [{"address", "expires"}]}}`,
    /// expiries in seconds since the epoch.
    public func encode() -> String {
        var d: [String: JSONOut] = [:]
        for (n, entries) in names {
            d[n] = .array(entries.map { .object(["address": .string($0.address.description), "expires": .int($0.expires)]) })
        }
        return JSONOut.object(["names": .object(d)]).render() + "\n"
    }

    /// The state file as `encode` writes it; nil for anything else (the caller moves the
    /// file aside and starts empty).
    public static func decode(_ text: String) -> LearnedAddresses? {
        guard let (doc, _) = try? JSONReader.parse(text), case .object(let members)? = doc["names"] else { return nil }
        var out = LearnedAddresses()
        for m in members {
            guard case .array(let items) = m.value else { return nil }
            var entries: [Entry] = []
            for item in items {
                guard case .string(let a)? = item["address"], let addr = IPAddress(a),
                      case .number(let t)? = item["expires"], let exp = Int64(t) else { return nil }
                entries.append(Entry(address: addr, expires: exp))
            }
            out.names[m.key] = entries
        }
        return out
    }

    // MARK: nft

    /// The verdict-map elements of every live learned address of every domain rule, each
    /// with its remaining time to the millisecond (`nowMs`: since the epoch), at least a
    /// second. On one key (address, protocol, port) deny wins over allow.
    public func elements(_ config: GatePeerConfig, nowMs: Int64) -> [NftElement] {
        guard let f = config.filter else { return [] }
        let now = nowMs / 1000
        var out: [NftElement] = []
        for (gi, group) in f.outbound.enumerated() {
            var chosen: [String: (element: NftElement, expires: Int64, action: FilterAction)] = [:]
            var order: [String] = []
            for (k, rule) in group.rules.enumerated() {
                guard case .domain(let pattern) = rule.destination else { continue }
                for e in addresses(matching: pattern, now: now) {
                    let chain = NftNames.ruleCounter(group: gi, rule: k)
                    func set(_ shape: NftNames.KeyShape) -> String { NftNames.learned(group: gi, family: e.address.family, shape) }
                    var keys: [NftElement] = []
                    switch (rule.protocolMatch, rule.ports.isEmpty) {
                    case (.any, _):
                        keys = [NftElement(set: set(.address), key: [.address(e.address)], interval: false, gotoChain: chain)]
                    case (.number(let n), true):
                        keys = [NftElement(set: set(.proto), key: [.address(e.address), .proto(n)], interval: false, gotoChain: chain)]
                    case (.number(let n), false):
                        keys = rule.ports.map { NftElement(set: set(.ports), key: [.address(e.address), .proto(n), .ports($0)], interval: true, gotoChain: chain) }
                    }
                    for element in keys {
                        let id = element.set + "|" + element.keyText
                        if var existing = chosen[id] {
                            // One key: deny wins; for the same action the later expiry does.
                            if existing.action == rule.action || existing.action == .deny {
                                existing.expires = max(existing.expires, existing.action == rule.action ? e.expires : existing.expires)
                                chosen[id] = existing
                                continue
                            }
                        } else {
                            order.append(id)
                        }
                        chosen[id] = (element, e.expires, rule.action)
                    }
                }
            }
            for id in order {
                var c = chosen[id]!
                c.element.timeoutMs = max(1000, c.expires * 1000 - nowMs)
                out.append(c.element)
            }
        }
        return out
    }

    /// For `filter check`: per group, per rule, the live addresses learned for it.
    public func byRule(_ config: GatePeerConfig, now: Int64) -> [Int: [Int: [IPAddress]]] {
        guard let f = config.filter else { return [:] }
        var out: [Int: [Int: [IPAddress]]] = [:]
        for (gi, g) in f.outbound.enumerated() {
            for (k, r) in g.rules.enumerated() {
                if case .domain(let p) = r.destination { out[gi, default: [:]][k] = addresses(matching: p, now: now).map(\.address) }
            }
        }
        return out
    }
}
