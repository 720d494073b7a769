/// An Ethernet address. Links get a stable one: if the kernel (or udev's
/// MACAddressPolicy=persistent) picked it, it could change across recreation and the
/// VPG's learned entries would go stale.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The six octets in transmission order.
    public let bytes: [UInt8]

    /// nil unless there are exactly six bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// Six colon-separated hex pairs (either case), such as 02:00:5e:10:00:01; nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            out.append(b)
        }
        self.bytes = out
    }

    /// 00:00:00:00:00:00: the FDB's default entry, where flooded frames go.
    public static let zero = MACAddress(bytes: [0, 0, 0, 0, 0, 0])!

    /// The I/G bit (least significant bit of the first octet): group address.
    public var isMulticast: Bool { bytes[0] & 0x01 != 0 }
    /// All six octets zero.
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// Lowercase hex pairs joined by ':', as `ip link` prints them.
    public var description: String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined(separator: ":")
    }

    /// A locally administered unicast address from a 64-bit FNV-1a hash of the link name:
    /// the same name gives the same MAC on every host and every recreation.
    public static func derived(fromLinkName name: String) -> MACAddress {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in ("gatepeer:" + name).utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        var bytes = (0..<6).map { UInt8(truncatingIfNeeded: h >> (8 * UInt64($0))) }
        bytes[0] = (bytes[0] & 0xfc) | 0x02  // unicast, locally administered
        return MACAddress(bytes: bytes)!
    }
}
