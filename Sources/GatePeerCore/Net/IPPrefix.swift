/// An address with a prefix length. Two uses share it: a network (`192.168.10.0/24`,
/// host bits must be zero) and an interface address (`10.255.255.254/9`, host bits are
/// the point). Which one is meant is decided by the caller, never silently fixed up.
public struct IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as written (host bits kept, see `network`).
    public let address: IPAddress
    /// Prefix length in bits: 0...32 for IPv4, 0...128 for IPv6.
    public let length: Int

    /// nil when `length` is outside 0...`address.family.bitCount`.
    public init?(address: IPAddress, length: Int) {
        guard length >= 0, length <= address.family.bitCount else { return nil }
        self.address = address
        self.length = length
    }

    /// Why `parse` refused a text: no `/LENGTH`, no address before it, or a length above
    /// `maximum` (32 or 128) or not a decimal number.
    public enum ParseError: Error, Equatable {
        case missingLength, badAddress, badLength(maximum: Int)
    }

    /// Parses `ADDRESS/LENGTH`. With `bareAddressIsHost`, a bare address means a host
    /// prefix (/32 or /128).
    public static func parse(_ text: String, bareAddressIsHost: Bool = false) -> Result<IPPrefix, ParseError> {
        if let p = v4Prefix(text.utf8) { return .success(p) }
        let utf8 = text.utf8
        let slash = utf8.firstIndex(of: UInt8(ascii: "/"))
        guard let addr = IPAddress(String(text[..<(slash ?? text.endIndex)])) else { return .failure(.badAddress) }
        guard let slash else {
            guard bareAddressIsHost else { return .failure(.missingLength) }
            return .success(IPPrefix(address: addr, length: addr.family.bitCount)!)
        }
        let lenText = utf8[utf8.index(after: slash)...]
        var len = 0
        for c in lenText {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return .failure(.badLength(maximum: addr.family.bitCount)) }
            len = len * 10 + Int(c - UInt8(ascii: "0"))
            if len > 128 { break }
        }
        guard !lenText.isEmpty, lenText.count <= 3, !(lenText.count > 1 && lenText.first == UInt8(ascii: "0")),
              len <= addr.family.bitCount else {
            return .failure(.badLength(maximum: addr.family.bitCount))
        }
        return .success(IPPrefix(address: addr, length: len)!)
    }

    /// `a.b.c.d/n` in one pass over the bytes, the shape of nearly every prefix in a large
    /// policy; nil for anything else (the general parser then says what is wrong).
    static func v4Prefix(_ utf8: String.UTF8View) -> IPPrefix? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0, length = -1
        for c in utf8 {
            if length >= 0 {
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"), !(digits == 1 && length == 0) else { return nil }
                length = length * 10 + Int(c - UInt8(ascii: "0")); digits += 1
                guard length <= 32 else { return nil }
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                guard !(digits == 1 && octet == 0) else { return nil }  // no leading zeros
                octet = octet * 10 + UInt32(c - UInt8(ascii: "0")); digits += 1
                guard octet <= 255 else { return nil }
            } else if c == UInt8(ascii: "."), digits > 0, dots < 3 {
                value = value << 8 | octet; octet = 0; digits = 0; dots += 1
            } else if c == UInt8(ascii: "/"), digits > 0, dots == 3 {
                value = value << 8 | octet; digits = 0; length = 0
            } else {
                return nil
            }
        }
        guard length >= 0, digits > 0 else { return nil }
        return IPPrefix(address: IPAddress(v4: value), length: length)
    }

    /// `parse(text)`, nil on any error (for literals and tests).
    public init?(_ text: String) {
        guard case .success(let p) = IPPrefix.parse(text) else { return nil }
        self = p
    }

    /// The address's family.
    public var family: IPAddress.Family { address.family }

    /// The network this prefix belongs to (host bits cleared).
    public var network: IPPrefix { IPPrefix(address: address.masked(length), length: length)! }

    /// Whether bits past `length` are set (`192.168.10.1/24`: yes).
    public var hasHostBits: Bool { address.masked(length) != address }

    /// The last address of the network (the IPv4 broadcast address).
    public var lastAddress: IPAddress { address.withHostBitsSet(length) }

    /// Whether `a` is in the network (same family, same first `length` bits).
    public func contains(_ a: IPAddress) -> Bool {
        a.family == family && a.masked(length) == address.masked(length)
    }

    /// True when one prefix's network contains the other's.
    public func overlaps(_ other: IPPrefix) -> Bool {
        guard family == other.family else { return false }
        let shorter = min(length, other.length)
        return address.masked(shorter) == other.address.masked(shorter)
    }

    /// `ADDRESS/LENGTH` as written (host bits kept).
    public var description: String { "\(address)/\(length)" }

    /// By address (IPv4 first), then by length.
    public static func < (a: IPPrefix, b: IPPrefix) -> Bool {
        (a.address, a.length) < (b.address, b.length)
    }
}

extension IPPrefix {
    /// The prefix whose range is exactly low...high, if there is one.
    static func covering(_ low: IPAddress, _ high: IPAddress) -> IPPrefix? {
        guard low.family == high.family else { return nil }
        for len in 0...low.family.bitCount {
            if let p = IPPrefix(address: low, length: len), p.network.address == low, p.lastAddress == high { return p }
        }
        return nil
    }
}
