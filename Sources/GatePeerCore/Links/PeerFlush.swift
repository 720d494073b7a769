/// One ARP (IPv4) or NDP (IPv6) entry as the kernel dumps it (RTM_GETNEIGH, AF_INET/AF_INET6).
public struct ObservedNeighbour: Equatable, Sendable {
    /// ndm_ifindex: the device the entry is on.
    public var linkIndex: Int32
    /// NDA_DST: the neighbour's IP address.
    public var address: IPAddress
    /// NDA_LLADDR; nil while unresolved (INCOMPLETE, FAILED).
    public var mac: MACAddress?
    /// ndm_state (NUD_REACHABLE 0x02, NUD_STALE 0x04, ..., NUD_NOARP 0x40, NUD_PERMANENT 0x80).
    public var state: UInt16

    public init(linkIndex: Int32, address: IPAddress, mac: MACAddress?, state: UInt16) {
        self.linkIndex = linkIndex; self.address = address; self.mac = mac; self.state = state
    }

    /// Made by hand (`nud permanent` or `noarp`): never aged, never flushed by gatepeer.
    public var isPinned: Bool { state & (ObservedFDBEntry.nudPermanent | ObservedFDBEntry.nudNoARP) != 0 }
}

/// What to delete on a vxlan device when one of its VPG gate peers goes down
/// (docs/config.md, "VPG gate peer liveness"): the FDB entries the kernel learned toward
/// the peer's outer address, and the ARP/NDP entries that resolved to one of their MACs.
/// Never an all-zero entry, a permanent or static one, nor anything on another device.
public enum PeerFlush {
    /// The entries of `fdb` and `neighbours` (dumps of the whole namespace) to delete
    /// when the peer at `peer` on the device with index `linkIndex` is down.
    public static func select(fdb: [ObservedFDBEntry], neighbours: [ObservedNeighbour], linkIndex: Int32,
                              peer: IPAddress) -> (fdb: [ObservedFDBEntry], neighbours: [ObservedNeighbour]) {
        let learned = fdb.filter { $0.linkIndex == linkIndex && $0.isLearned && $0.destination == peer }
        let macs = Set(learned.map(\.mac))
        let resolved = neighbours.filter { n in
            n.linkIndex == linkIndex && !n.isPinned && n.mac.map(macs.contains) == true
        }
        return (learned, resolved)
    }
}
