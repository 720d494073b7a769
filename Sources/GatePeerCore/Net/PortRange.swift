/// An inclusive range of ports, low <= high (1...65535 in configs).
public struct PortRange: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// First port of the range.
    public var low: UInt16
    /// Last port of the range (included).
    public var high: UInt16
    /// No check: callers keep low <= high.
    public init(low: UInt16, high: UInt16) { self.low = low; self.high = high }
    /// "LOW-HIGH", also for a single port (`portText` writes it alone).
    public var description: String { "\(low)-\(high)" }

    /// "443" or "8000-8080": how nft, the CLI and rule summaries write a port range.
    public var portText: String { low == high ? "\(low)" : "\(low)-\(high)" }

    /// Parses "443" or "8000-8080" (1..65535, LOW <= HIGH, each strict decimal as
    /// `DecimalText` reads it); nil otherwise.
    public static func parse(_ s: Substring) -> PortRange? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
              let a = DecimalText.parse(parts[0], in: 1...65535), let b = DecimalText.parse(parts[parts.count - 1], in: 1...65535),
              a <= b else { return nil }
        return PortRange(low: UInt16(a), high: UInt16(b))
    }

    /// The kernel picks VXLAN source ports in [low, high) and, when low == high, falls
    /// back to the ephemeral range: `srcport 4789 4789` (the vendor script) does NOT pin
    /// 4789. Config ranges are inclusive, as people read them (high <= 65534, so high + 1
    /// always fits the 16-bit field); these convert both ways.
    public var kernelHalfOpen: PortRange { PortRange(low: low, high: high + 1) }

    /// The inclusive range of the kernel's half-open IFLA_VXLAN_PORT_RANGE [low, high).
    public init(kernelLow: UInt16, kernelHigh: UInt16) {
        self.init(low: kernelLow, high: kernelHigh > kernelLow ? kernelHigh - 1 : kernelHigh)
    }
}
