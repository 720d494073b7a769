public struct PacketCount: Equatable, Sendable {
    public var packets: UInt64
    public var bytes: UInt64
    public init(packets: UInt64, bytes: UInt64) { self.packets = packets; self.bytes = bytes }
    public static func + (a: PacketCount, b: PacketCount) -> PacketCount {
        PacketCount(packets: a.packets + b.packets, bytes: a.bytes + b.bytes)
    }
}
