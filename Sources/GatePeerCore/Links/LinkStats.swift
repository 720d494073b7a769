/// Interface counters (IFLA_STATS64: rtnl_link_stats64), packets and bytes since the
/// device was made.
public struct LinkStats: Equatable, Sendable {
    /// Received and sent packets and bytes.
    public var rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64
    /// Counters as the kernel layer decodes them.
    public init(rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64) {
        self.rxPackets = rxPackets; self.rxBytes = rxBytes; self.txPackets = txPackets; self.txBytes = txBytes
    }
}
