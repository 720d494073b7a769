import CNetlink
import GatePeerCore
import Glibc

extension Kernel {
    /// What `flushLearned` deleted.
    public struct PeerFlush: Equatable, Sendable {
        /// Learned FDB entries (device MAC -> the dead VTEP) deleted.
        public var fdb: Int
        /// ARP/NDP entries whose link-layer address was one of those MACs, deleted.
        public var neighbours: Int
        /// Both together.
        public var total: Int { fdb + neighbours }
    }

    /// When a VPG gate peer stops answering: deletes the FDB entries on vxlan device
    /// `link` that the kernel learned (NUD_REACHABLE/STALE, never permanent, never the
    /// all-zero flood entries the config owns) with `dst` the peer's outer address, and
    /// the ARP/NDP entries on `link` (not permanent ones) whose link-layer address is one
    /// of those MACs. The next packet to such a device is flooded to every gate peer (ARP
    /// or an unknown unicast) and a live one answers. An entry gone meanwhile (aged out)
    /// is no failure. Throws KernelError when netlink fails; nil when `link` is missing.
    public func flushLearned(link: String, toward peer: IPAddress) throws -> PeerFlush? {
        guard let index = try indexesByName()[link] else { return nil }
        let fdb = try socket.dump(type: Int(RtnetlinkMessage.getNeighbour), family: RtnetlinkCodec.familyBridge,
                                  headerSize: MemoryLayout<ndmsg>.size, what: "fdb", parse: RtnetlinkCodec.parseFDB)
            .filter { $0.linkIndex == index && $0.isLearned && $0.destination == peer }
        let macs = Set(fdb.map(\.mac))
        var neighbours: [RtnetlinkCodec.IPNeighbour] = []
        if !macs.isEmpty {
            for family in [UInt8(AF_INET), UInt8(AF_INET6)] {
                neighbours += try socket.dump(type: Int(RtnetlinkMessage.getNeighbour), family: family,
                                              headerSize: MemoryLayout<ndmsg>.size, what: "neighbours", parse: RtnetlinkCodec.parseIPNeighbour)
                    .filter { $0.linkIndex == index && $0.state & UInt16(NUD_PERMANENT | NUD_NOARP) == 0 && $0.mac.map(macs.contains) == true }
            }
        }
        guard !fdb.isEmpty else { return PeerFlush(fdb: 0, neighbours: 0) }
        // The neighbours first: with the FDB entry gone first, a packet in between would
        // still be sent to the old MAC and flooded to every peer.
        let b = RequestBatch(socket: socket)
        for (i, n) in neighbours.enumerated() { RtnetlinkCodec.deleteIPNeighbour(b, link: link, n, tag: ChangeTag(i)) }
        for (i, e) in fdb.enumerated() { RtnetlinkCodec.deleteFDB(b, link: link, e, tag: ChangeTag(neighbours.count + i)) }
        b.finish()
        let failed = try socket.send(b).filter { $0.error.errno != ENOENT }
        if let f = failed.first { throw f.error }
        return PeerFlush(fdb: fdb.count, neighbours: neighbours.count)
    }
}
