/// An nftables counter's value (NFTA_COUNTER_PACKETS, NFTA_COUNTER_BYTES).
public struct PacketCount: Equatable, Sendable {
    /// Packets counted.
    public var packets: UInt64
    /// Bytes counted.
    public var bytes: UInt64
    /// A count as read.
    public init(packets: UInt64, bytes: UInt64) { self.packets = packets; self.bytes = bytes }
    /// Both counts summed (a rule's counters across maps and chains).
    public static func + (a: PacketCount, b: PacketCount) -> PacketCount {
        PacketCount(packets: a.packets + b.packets, bytes: a.bytes + b.bytes)
    }
}
