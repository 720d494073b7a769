/// A temporary allow: devices in `from` may reach `to` (on a protocol and ports) until
/// `expires`. Grants live in a state file (so they survive a re-apply and a restart) and
/// in nft sets whose elements time out by themselves.
public struct Grant: Equatable, Sendable {
    public var from: IPPrefix
    public var to: IPPrefix
    public var protocolMatch: ProtocolMatch
    public var ports: [PortRange]
    /// Unix time, seconds.
    public var expires: Int64

    public init(from: IPPrefix, to: IPPrefix, protocolMatch: ProtocolMatch = .any, ports: [PortRange] = [], expires: Int64) {
        self.from = from
        self.to = to
        self.protocolMatch = protocolMatch
        self.ports = ports
        self.expires = expires
    }

    /// Two grants for the same thing (a renewal replaces the expiry).
    public func sameScope(as g: Grant) -> Bool {
        from == g.from && to == g.to && protocolMatch == g.protocolMatch && ports == g.ports
    }

    /// nft refuses overlapping elements in one interval set: grants that would share a
    /// set and overlap in every field cannot both be loaded.
    public func conflicts(with g: Grant) -> Bool {
        guard !sameScope(as: g), from.family == g.from.family, to.family == g.to.family,
              from.overlaps(g.from), to.overlaps(g.to), protocolMatch == g.protocolMatch,
              ports.isEmpty == g.ports.isEmpty else { return false }
        if ports.isEmpty { return true }
        return ports.contains { a in g.ports.contains { b in a.low <= b.high && b.low <= a.high } }
    }

    public var summary: String {
        var s = "\(from.network) -> \(to.network)"
        if protocolMatch != .any { s += " \(protocolMatch)" }
        if !ports.isEmpty { s += " " + ports.map(\.portText).joined(separator: ",") }
        return s
    }

    public func covers(source: IPAddress, destination: IPAddress, proto: UInt8?, port: UInt16?, now: Int64) -> Bool {
        guard expires > now, from.contains(source), to.contains(destination) else { return false }
        if case .number(let n) = protocolMatch, n != proto { return false }
        if !ports.isEmpty {
            guard let port, ports.contains(where: { $0.low <= port && port <= $0.high }) else { return false }
        }
        return true
    }

    /// "90s", "30m", "2h", "1d", "1h30m": each unit at most once, largest first, so a
    /// slip like "1d1d" (2 days) or "30m1h" is refused rather than summed; after a larger
    /// unit a value must stay below it ("1h60m" is a typo for 2h or 1h6m, not 2h); each
    /// number strict decimal (`DecimalText`: no sign, no leading zero).
    public static func parseDuration(_ s: String) -> Int64? {
        var total: Int64 = 0, sawUnit = false
        var lastUnit = Int64.max  // seconds per unit of the previous unit
        var start = s.startIndex
        for i in s.indices {
            let c = s[i]
            if c.isASCII && c.isNumber { continue }
            let digits = s[start..<i]
            start = s.index(after: i)
            guard let value = DecimalText.parse(digits, in: 0...10_000_000) else { return nil }
            let number = Int64(value)
            let unit: Int64
            switch c {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            default: return nil
            }
            guard unit < lastUnit, lastUnit == Int64.max || number * unit < lastUnit else { return nil }
            total += number * unit
            lastUnit = unit
            sawUnit = true
        }
        guard start == s.endIndex, sawUnit, total > 0, total <= 366 * 86400 else { return nil }
        return total
    }

    public static func formatDuration(_ seconds: Int64) -> String {
        if seconds <= 0 { return "expired" }
        let d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60, s = seconds % 60
        var out = ""
        if d > 0 { out += "\(d)d" }
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }
}

/// The grants state file: JSON, written 0600 by the CLI.
public enum GrantState {
    public static func decode(_ text: String) -> Result<[Grant], ConfigError> {
        guard let (doc, _) = try? JSONReader.parse(text), case .array(let items)? = doc["grants"] else {
            return .failure(ConfigError(problems: [ConfigProblem("grants", "state file is not {\"grants\": [...]}")]))
        }
        var out: [Grant] = []
        var p = Problems()
        for (i, item) in items.enumerated() {
            let path = "grants[\(i)]"
            guard var o = ObjectReader(item, path: path, &p) else { continue }
            let from = o.string("from", required: true, &p).flatMap { ConfigDecoder.network($0, "\(path).from", field: .filterMatch, &p) }
            let to = o.string("to", required: true, &p).flatMap { ConfigDecoder.network($0, "\(path).to", field: .filterMatch, &p) }
            let proto = ConfigDecoder.decodeProtocol(&o, path: path, &p)
            let ports = ConfigDecoder.decodePorts(&o, path: path, protocolMatch: proto, &p)
            var expires: Int64? = nil
            if case .number(let t)? = o.value("expires", &p) { expires = Int64(t) } else { p.add("\(path).expires", "is required") }
            o.finish(&p, known: ["from", "to", "protocol", "ports", "expires"])
            if let from, let to, let proto, let ports, let expires {
                out.append(Grant(from: from, to: to, protocolMatch: proto, ports: ports, expires: expires))
            }
        }
        return p.list.isEmpty ? .success(out) : .failure(p.error)
    }

    /// grants.json: one compact object per line, so the file stays about as large as the
    /// grants (pretty-printing grew a compact 10.3 MB file to 17.1 MB, over the read
    /// limit) and still reads and diffs line by line.
    public static func encode(_ grants: [Grant]) -> String {
        let lines = grants.map { g in
            var d: [String: JSONOut] = ["from": .string(g.from.description), "to": .string(g.to.description), "expires": .int(g.expires)]
            if case .number(let n) = g.protocolMatch { d["protocol"] = .int(Int64(n)) }
            if !g.ports.isEmpty { d["ports"] = .array(g.ports.map { .string("\($0.low)-\($0.high)") }) }
            return JSONOut.object(d).render(pretty: false)
        }
        return lines.isEmpty ? "{\"grants\": []}\n" : "{\"grants\": [\n" + lines.joined(separator: ",\n") + "\n]}\n"
    }

    /// The set elements of `grants` (the active ones), each with the time left to the
    /// millisecond (`nowMs`: since the epoch), so the kernel drops it at `expires`
    /// itself; whole seconds would let a re-applied grant outlive its time by up to 1 s.
    public static func elements(_ grants: [Grant], nowMs: Int64) -> [NftElement] {
        grants.filter { $0.expires * 1000 > nowMs }.flatMap { keys($0, timeoutMs: max(1, $0.expires * 1000 - nowMs)) }
    }

    /// The keys of `g` (no timeout), to delete it.
    public static func deleteElements(_ g: Grant) -> [NftElement] { keys(g, timeoutMs: nil) }

    private static func keys(_ g: Grant, timeoutMs: Int64?) -> [NftElement] {
        let pair: [NftElement.Field] = [.prefix(g.from), .prefix(g.to)]
        switch (g.protocolMatch, g.ports.isEmpty) {
        case (.any, _):
            return [NftElement(set: NftNames.grants(g.from.family, .address), key: pair, interval: true, timeoutMs: timeoutMs)]
        case (.number(let n), true):
            return [NftElement(set: NftNames.grants(g.from.family, .proto), key: pair + [.proto(n)], interval: true, timeoutMs: timeoutMs)]
        case (.number(let n), false):
            return g.ports.map { NftElement(set: NftNames.grants(g.from.family, .ports), key: pair + [.proto(n), .ports($0)], interval: true, timeoutMs: timeoutMs) }
        }
    }
}

/// nft's time syntax for element timeouts, to the millisecond.
public enum NftTime {
    /// "900s", "899s500ms", "250ms".
    public static func text(_ ms: Int64) -> String {
        let s = ms / 1000, r = ms % 1000
        return s == 0 ? "\(r)ms" : r == 0 ? "\(s)s" : "\(s)s\(r)ms"
    }
}
