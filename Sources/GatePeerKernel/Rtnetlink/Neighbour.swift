import CNetlink
import GatePeerCore

/// NDA_* attributes of a neighbour message (<linux/neighbour.h>).
enum NeighbourAttribute {
    static let destination = UInt16(NDA_DST)
    static let linkLayerAddress = UInt16(NDA_LLADDR)
    static let port = UInt16(NDA_PORT)
    static let vni = UInt16(NDA_VNI)
    static let outgoingIndex = UInt16(NDA_IFINDEX)
    static let sourceVNI = UInt16(NDA_SRC_VNI)
}

/// The FDB: AF_BRIDGE neighbours on the vxlan device (its remotes), dumped, appended
/// and deleted.
extension RtnetlinkCodec {
    /// Every attribute that identifies or steers an entry (see ObservedFDBEntry).
    static func parseFDB(_ m: NetlinkMessage) -> ObservedFDBEntry? {
        guard let (nd, a) = decode(m, type: RtnetlinkMessage.newNeighbour, ndmsg.self), nd.ndm_family == familyBridge,
              let mb = a.bytes(NeighbourAttribute.linkLayerAddress), let mac = MACAddress(bytes: mb) else { return nil }
        return ObservedFDBEntry(linkIndex: nd.ndm_ifindex, mac: mac, destination: a.address(NeighbourAttribute.destination),
                                state: nd.ndm_state, flags: nd.ndm_flags,
                                port: a.be16(NeighbourAttribute.port), vni: a.u32(NeighbourAttribute.vni),
                                sourceVNI: a.u32(NeighbourAttribute.sourceVNI),
                                outgoingIndex: a.u32(NeighbourAttribute.outgoingIndex).map { Int32(bitPattern: $0) })
    }

    /// An ndmsg for the device's own table (NTF_SELF: a bridge master's would take NTF_MASTER).
    private static func fdbHeader(_ w: inout NetlinkWriter, index: Int32, state: UInt16) {
        var nd = ndmsg()
        nd.ndm_family = familyBridge
        nd.ndm_ifindex = index
        nd.ndm_state = state
        nd.ndm_flags = UInt8(NTF_SELF)
        w.fixedHeader(nd)
    }

    /// Appends the all-zero entry toward a gate peer with the device's port and VNI.
    static func appendFDB(_ b: RequestBatch, link: String, index: Int32, destination: IPAddress, tag: ChangeTag) {
        // APPEND: several all-zero entries coexist, one per gate peer.
        b.add("append fdb 00:00:00:00:00:00 dst \(destination) on \(link)", tag: tag,
              type: RtnetlinkMessage.newNeighbour, flags: NetlinkFlags.create | NetlinkFlags.append) { w in
            fdbHeader(&w, index: index, state: UInt16(NUD_PERMANENT))
            w.attribute(NeighbourAttribute.linkLayerAddress, MACAddress.zero.bytes)
            w.attribute(NeighbourAttribute.destination, address: destination)
        }
    }

    /// Deletes one entry exactly as observed. The vxlan driver fills every attribute left
    /// out with the device's own value and then looks for a remote matching destination,
    /// port, VNI and outgoing device; when none matches it answers success and deletes
    /// nothing, so a delete that names only the destination misses a drifted entry.
    static func deleteFDB(_ b: RequestBatch, link: String, _ e: ObservedFDBEntry, tag: ChangeTag) {
        b.add("delete fdb \(e.mac)\(e.destination.map { " dst \($0)" } ?? "")\(e.attributeText) on \(link)", tag: tag,
              type: RtnetlinkMessage.deleteNeighbour) { w in
            fdbHeader(&w, index: e.linkIndex, state: e.state)
            w.attribute(NeighbourAttribute.linkLayerAddress, e.mac.bytes)
            if let d = e.destination { w.attribute(NeighbourAttribute.destination, address: d) }
            if let p = e.port { w.attribute(NeighbourAttribute.port, be16: p) }
            if let v = e.vni { w.attribute(NeighbourAttribute.vni, u32: v) }
            if let v = e.sourceVNI { w.attribute(NeighbourAttribute.sourceVNI, u32: v) }
            if let i = e.outgoingIndex { w.attribute(NeighbourAttribute.outgoingIndex, u32: UInt32(bitPattern: i)) }
        }
    }
}

/// IP neighbours (ARP and NDP entries, AF_INET/AF_INET6): the ones that resolved through
/// a dead gate peer are deleted, so the next packet resolves again.
extension RtnetlinkCodec {
    /// One ARP/NDP entry: device, address, link-layer address (nil while unresolved), NUD state.
    struct IPNeighbour {
        let linkIndex: Int32
        let family: UInt8
        let address: IPAddress
        let mac: MACAddress?
        let state: UInt16
    }

    static func parseIPNeighbour(_ m: NetlinkMessage) -> IPNeighbour? {
        guard let (nd, a) = decode(m, type: RtnetlinkMessage.newNeighbour, ndmsg.self),
              nd.ndm_family == UInt8(AF_INET) || nd.ndm_family == UInt8(AF_INET6),
              let dst = a.address(NeighbourAttribute.destination) else { return nil }
        return IPNeighbour(linkIndex: nd.ndm_ifindex, family: nd.ndm_family, address: dst,
                           mac: a.bytes(NeighbourAttribute.linkLayerAddress).flatMap { MACAddress(bytes: $0) }, state: nd.ndm_state)
    }

    /// Deletes one ARP/NDP entry (`ip neigh del ADDRESS dev LINK`).
    static func deleteIPNeighbour(_ b: RequestBatch, link: String, _ n: IPNeighbour, tag: ChangeTag) {
        b.add("delete neighbour \(n.address) on \(link)", tag: tag, type: RtnetlinkMessage.deleteNeighbour) { w in
            var nd = ndmsg()
            nd.ndm_family = n.family
            nd.ndm_ifindex = n.linkIndex
            w.fixedHeader(nd)
            w.attribute(NeighbourAttribute.destination, address: n.address)
        }
    }
}
