/// A temporary allow: devices in `from` may reach `to` (on a protocol and ports) until
/// `expires`. Grants live in a state file (so they survive a re-apply and a restart) and
/// in nft sets whose elements time out by themselves.
public struct Grant: Equatable, Sendable {
    /// Source prefix: the devices granted.
    public var from: IPPrefix
    /// Destination prefix.
    public var to: IPPrefix
    /// IP protocol; `.any` for every protocol.
    public var protocolMatch: ProtocolMatch
    /// Destination port ranges (only with tcp, udp, sctp, dccp, udplite); empty: any port.
    public var ports: [PortRange]
    /// Unix time, seconds.
    public var expires: Int64

    /// `expires`: Unix time in seconds; `ports` empty means any port.
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

    /// "FROM -> TO [PROTOCOL] [PORTS]", as `filter grants` lists it.
    public var summary: String {
        var s = "\(from.network) -> \(to.network)"
        if protocolMatch != .any { s += " \(protocolMatch)" }
        if !ports.isEmpty { s += " " + ports.map(\.portText).joined(separator: ",") }
        return s
    }

    /// Whether the grant allows a packet at `now` (Unix seconds): source, destination, IP
    /// protocol number (nil: unknown) and destination port (nil: none), as `filter check` asks.
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

    /// Seconds as `parseDuration` reads them ("1d2h", "90s" -> "1m30s"); "expired" for <= 0.
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
