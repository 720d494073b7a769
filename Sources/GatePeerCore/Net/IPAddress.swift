/// An IPv4 or IPv6 address held as 128 bits (IPv4 in the low 32), so that prefix math is
/// one code path for both families.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// IPv4 or IPv6.
    public enum Family: Sendable, Hashable {
        case v4, v6
        /// Address width in bits: 32 or 128.
        public var bitCount: Int { self == .v4 ? 32 : 128 }
        /// "IPv4" or "IPv6", as messages say it.
        public var name: String { self == .v4 ? "IPv4" : "IPv6" }
        /// The smallest MTU a link carrying this family inside may have: what every host
        /// must accept (576, RFC 791; 1280, RFC 8200), so the MSS clamp (MTU - 40 / - 60)
        /// stays at or above TCP's default MSS (536 / 1220). The kernel's own floor, 68,
        /// would give a clamp of 8 bytes.
        public var minimumLinkMTU: Int { self == .v4 ? 576 : 1280 }
    }

    /// Which family; an IPv4 address is never equal to an IPv6 one (not even ::ffff:a.b.c.d).
    public let family: Family
    /// High and low 64 bits. IPv4 lives in `low` (upper 32 bits zero).
    public let high: UInt64
    /// Low 64 bits (for IPv4, the address in the lower 32).
    public let low: UInt64

    /// An IPv4 address from its 32 bits in host order (192.0.2.1 is 0xc000_0201).
    public init(v4 value: UInt32) {
        family = .v4; high = 0; low = UInt64(value)
    }

    /// An IPv6 address from its high and low 64 bits in host order.
    public init(v6High: UInt64, v6Low: UInt64) {
        family = .v6; high = v6High; low = v6Low
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public init?(bytes: [UInt8]) {
        if bytes.count == 4 {
            self.init(v4: bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        } else if bytes.count == 16 {
            let h = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let l = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self.init(v6High: h, v6Low: l)
        } else {
            return nil
        }
    }

    /// Network-order bytes, as netlink attributes carry them: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch family {
        case .v4:
            let v = UInt32(truncatingIfNeeded: low)
            return [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
        case .v6:
            return (0..<8).map { UInt8(high >> (56 - 8 * UInt64($0)) & 0xff) }
                + (0..<8).map { UInt8(low >> (56 - 8 * UInt64($0)) & 0xff) }
        }
    }

    /// The unspecified address, 0.0.0.0 or ::.
    public var isZero: Bool { high == 0 && low == 0 }

    /// In fe80::/10 (RFC 4291 2.5.6).
    public var isIPv6LinkLocal: Bool { family == .v6 && high >> 54 == 0x3fa }  // fe80::/10

    /// In 127.0.0.0/8, or ::1.
    public var isLoopback: Bool {
        switch family {
        case .v4: return low >> 24 == 127
        case .v6: return high == 0 && low == 1
        }
    }

    /// 255.255.255.255.
    public var isLimitedBroadcast: Bool { family == .v4 && low == 0xffff_ffff }

    /// In 224.0.0.0/4, or ff00::/8.
    public var isMulticast: Bool {
        switch family {
        case .v4: return low >> 28 == 0xe
        case .v6: return high >> 56 == 0xff
        }
    }

    // MARK: parsing

    /// Parses dotted-quad IPv4 (exactly four decimal octets, no leading zeros that would
    /// read as octal elsewhere) or RFC 4291 IPv6 text, including an embedded IPv4 tail.
    public init?(_ text: String) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let v = IPAddress.parseV6(Substring(text)) else { return nil }
            self = v
        } else {
            guard let v = IPAddress.parseV4(Substring(text)) else { return nil }
            self.init(v4: v)
        }
    }

    /// Byte-level parser: this runs once per route in configs with 10,000s of routes.
    static func parseV4(_ s: Substring) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0, leadingZero = false
        for c in s.utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0; digits = 0; dots += 1
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                if digits == 0 { leadingZero = c == UInt8(ascii: "0") } else if leadingZero { return nil }
                digits += 1
                octet = octet * 10 + UInt32(c - UInt8(ascii: "0"))
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        return value << 8 | octet
    }

    static func parseV6(_ s: Substring) -> IPAddress? {
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        // Split on "::" by hand: Core does not import Foundation.
        var halves: [String] = []
        let chars = Array(s)
        var cur = "", i = 0
        while i < chars.count {
            if chars[i] == ":", i + 1 < chars.count, chars[i + 1] == ":" {
                halves.append(cur); cur = ""; i += 2
                if i < chars.count, chars[i] == ":" { return nil }
            } else { cur.append(chars[i]); i += 1 }
        }
        halves.append(cur)
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ text: String, allowV4Tail: Bool) -> [UInt16]? {
            if text.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1, allowV4Tail, p.contains(".") {
                    guard let v4 = parseV4(p) else { return nil }
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xffff))
                    continue
                }
                guard !p.isEmpty, p.count <= 4, let g = UInt16(p, radix: 16),
                      p.allSatisfy({ $0.isHexDigit }) else { return nil }
                out.append(g)
            }
            return out
        }
        if halves.count == 2 {
            sawGap = true
            guard let a = parseGroups(halves[0], allowV4Tail: false),
                  let b = parseGroups(halves[1], allowV4Tail: true) else { return nil }
            groups = a; tail = b
            guard groups.count + tail.count <= 7 else { return nil }
        } else {
            guard let a = parseGroups(halves[0], allowV4Tail: true), a.count == 8 else { return nil }
            groups = a
        }
        if sawGap {
            groups += Array(repeating: 0, count: 8 - groups.count - tail.count) + tail
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        return IPAddress(v6High: h, v6Low: l)
    }

    // MARK: formatting

    /// Dotted quad for IPv4; RFC 5952 text for IPv6 (lowercase, the longest zero run
    /// compressed, embedded IPv4 dotted).
    public var description: String {
        switch family {
        case .v4:
            // Digits written straight into a buffer: plan lines for 10,000s of routes.
            var out: [UInt8] = []
            out.reserveCapacity(15)
            for shift in stride(from: 24, through: 0, by: -8) {
                let b = UInt8(truncatingIfNeeded: low >> UInt64(shift))
                if b >= 100 { out.append(UInt8(ascii: "0") + b / 100) }
                if b >= 10 { out.append(UInt8(ascii: "0") + b / 10 % 10) }
                out.append(UInt8(ascii: "0") + b % 10)
                if shift > 0 { out.append(UInt8(ascii: ".")) }
            }
            return String(decoding: out, as: UTF8.self)
        case .v6:
            // RFC 5952 section 5: the well-known embedded-IPv4 prefixes keep the IPv4 part
            // dotted (::ffff:10.128.0.0, not ::ffff:a80:0); IPv4-compatible as inet_ntop
            // writes it (only when the dotted part cannot be read as ::1-like hex).
            if high == 0 {
                let v4 = IPAddress(v4: UInt32(truncatingIfNeeded: low)).description
                switch low >> 32 {
                case 0xffff: return "::ffff:" + v4
                case 0xffff_0000: return "::ffff:0:" + v4
                case 0 where low >> 16 != 0: return "::" + v4
                default: break
                }
            }
            // RFC 5952: lowercase, longest run (>= 2) of zero groups compressed, first wins.
            let g: [UInt16] = (0..<4).map { UInt16(high >> (48 - 16 * UInt64($0)) & 0xffff) }
                + (0..<4).map { UInt16(low >> (48 - 16 * UInt64($0)) & 0xffff) }
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if g[i] == 0 {
                    var j = i
                    while j < 8 && g[j] == 0 { j += 1 }
                    if j - i > bestLen { bestStart = i; bestLen = j - i }
                    i = j
                } else { i += 1 }
            }
            let hex = g.map { String($0, radix: 16) }
            if bestLen < 2 { return hex.joined(separator: ":") }
            let left = hex[0..<bestStart].joined(separator: ":")
            let right = hex[(bestStart + bestLen)...].joined(separator: ":")
            return left + "::" + right
        }
    }

    /// IPv4 before IPv6, then numerically.
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.family != b.family { return a.family == .v4 }
        return (a.high, a.low) < (b.high, b.low)
    }

    // MARK: bit math shared with IPPrefix

    /// Mask with the top `length` bits of the family's width set, as (high, low).
    static func mask(length: Int, family: Family) -> (UInt64, UInt64) {
        switch family {
        case .v4:
            let m: UInt64 = length == 0 ? 0 : (UInt64(0xffff_ffff) << UInt64(32 - length)) & 0xffff_ffff
            return (0, m)
        case .v6:
            if length == 0 { return (0, 0) }
            if length <= 64 { return (UInt64.max << UInt64(64 - length), 0) }
            if length == 128 { return (UInt64.max, UInt64.max) }
            return (UInt64.max, UInt64.max << UInt64(128 - length))
        }
    }

    func masked(_ length: Int) -> IPAddress {
        let (mh, ml) = IPAddress.mask(length: length, family: family)
        return family == .v4 ? IPAddress(v4: UInt32(low & ml)) : IPAddress(v6High: high & mh, v6Low: low & ml)
    }

    func withHostBitsSet(_ length: Int) -> IPAddress {
        let (mh, ml) = IPAddress.mask(length: length, family: family)
        if family == .v4 { return IPAddress(v4: UInt32((low | ~ml) & 0xffff_ffff)) }
        return IPAddress(v6High: high | ~mh, v6Low: low | ~ml)
    }
}

extension IPAddress {
    /// The next address, nil past the family's last address.
    public var successor: IPAddress? {
        switch family {
        case .v4: return low == 0xffff_ffff ? nil : IPAddress(v4: UInt32(low + 1))
        case .v6:
            if low == .max { return high == .max ? nil : IPAddress(v6High: high + 1, v6Low: 0) }
            return IPAddress(v6High: high, v6Low: low + 1)
        }
    }

    /// The previous address, nil at the family's first address.
    public var predecessor: IPAddress? {
        switch family {
        case .v4: return low == 0 ? nil : IPAddress(v4: UInt32(low - 1))
        case .v6:
            if low == 0 { return high == 0 ? nil : IPAddress(v6High: high - 1, v6Low: .max) }
            return IPAddress(v6High: high, v6Low: low - 1)
        }
    }
}
