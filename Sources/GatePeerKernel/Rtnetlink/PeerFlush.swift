import CNetlink
import GatePeerCore
import Glibc

extension Kernel {
    /// What `flushLearned` deleted.
    public struct PeerFlushCount: Equatable, Sendable {
        /// Learned FDB entries (device MAC -> the dead VTEP) deleted.
        public var fdb: Int
        /// ARP/NDP entries whose link-layer address was one of those MACs, deleted.
        public var neighbours: Int
        /// Both together.
        public var total: Int { fdb + neighbours }
    }

    /// When a VPG gate peer stops answering: deletes what PeerFlush.select picks on vxlan
    /// device `link` for the peer's outer address `peer` (learned FDB entries toward it,
    /// and the ARP/NDP entries that resolved to their MACs). The next packet to such a
    /// device is flooded to every gate peer (ARP or an unknown unicast) and a live one
    /// answers. An entry gone meanwhile (aged out) is no failure. Throws KernelError when
    /// netlink fails; nil when `link` is missing.
    public func flushLearned(link: String, toward peer: IPAddress) throws -> PeerFlushCount? {
        guard let index = try indexesByName()[link] else { return nil }
        let fdb = try socket.dump(type: Int(RtnetlinkMessage.getNeighbour), family: RtnetlinkCodec.familyBridge,
                                  headerSize: MemoryLayout<ndmsg>.size, what: "fdb", parse: RtnetlinkCodec.parseFDB)
        // The neighbours are read only when something was learned toward the peer.
        guard !PeerFlush.select(fdb: fdb, neighbours: [], linkIndex: index, peer: peer).fdb.isEmpty else {
            return PeerFlushCount(fdb: 0, neighbours: 0)
        }
        var neighbours: [ObservedNeighbour] = []
        for family in [IPAddress.Family.v4, .v6] {
            neighbours += try socket.dump(type: Int(RtnetlinkMessage.getNeighbour), family: RtnetlinkCodec.family(family),
                                          headerSize: MemoryLayout<ndmsg>.size, what: "neighbours", parse: RtnetlinkCodec.parseIPNeighbour)
        }
        let chosen = PeerFlush.select(fdb: fdb, neighbours: neighbours, linkIndex: index, peer: peer)
        // The neighbours first: with the FDB entry gone first, a packet in between would
        // still be sent to the old MAC and flooded to every peer.
        let b = RequestBatch(socket: socket)
        for (i, n) in chosen.neighbours.enumerated() { RtnetlinkCodec.deleteIPNeighbour(b, link: link, n, tag: ChangeTag(i)) }
        for (i, e) in chosen.fdb.enumerated() {
            RtnetlinkCodec.deleteFDB(b, link: link, e, tag: ChangeTag(chosen.neighbours.count + i))
        }
        b.finish()
        let failed = try socket.send(b).filter { $0.error.errno != ENOENT }
        if let f = failed.first { throw f.error }
        return PeerFlushCount(fdb: chosen.fdb.count, neighbours: chosen.neighbours.count)
    }
}
