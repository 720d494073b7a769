import CNetlink
import GatePeerCore
import Glibc

/// IFLA_* attributes of a link message (<linux/if_link.h>).
enum IFLA {
    static let address = UInt16(IFLA_ADDRESS)
    static let name = UInt16(IFLA_IFNAME)
    static let mtu = UInt16(IFLA_MTU)
    static let operState = UInt16(IFLA_OPERSTATE)
    static let linkInfo = UInt16(IFLA_LINKINFO)
    static let alias = UInt16(IFLA_IFALIAS)
    static let stats64 = UInt16(IFLA_STATS64)
    static let propertyList = UInt16(IFLA_PROP_LIST)
    static let altName = UInt16(IFLA_ALT_IFNAME)
    /// Inside IFLA_LINKINFO.
    static let infoKind = UInt16(IFLA_INFO_KIND)
    static let infoData = UInt16(IFLA_INFO_DATA)
}

/// IFLA_VXLAN_* attributes inside IFLA_INFO_DATA of a vxlan link.
enum VXLANAttribute {
    static let id = UInt16(IFLA_VXLAN_ID)
    static let group = UInt16(IFLA_VXLAN_GROUP)
    static let link = UInt16(IFLA_VXLAN_LINK)
    static let local = UInt16(IFLA_VXLAN_LOCAL)
    static let learning = UInt16(IFLA_VXLAN_LEARNING)
    static let portRange = UInt16(IFLA_VXLAN_PORT_RANGE)
    static let port = UInt16(IFLA_VXLAN_PORT)
    static let group6 = UInt16(IFLA_VXLAN_GROUP6)
    static let local6 = UInt16(IFLA_VXLAN_LOCAL6)
    static let udpZeroChecksum6Receive = UInt16(IFLA_VXLAN_UDP_ZERO_CSUM6_RX)
    static let remoteChecksumReceive = UInt16(IFLA_VXLAN_REMCSUM_RX)
    static let groupBasedPolicy = UInt16(IFLA_VXLAN_GBP)
    static let remoteChecksumNoPartial = UInt16(IFLA_VXLAN_REMCSUM_NOPARTIAL)
    static let collectMetadata = UInt16(IFLA_VXLAN_COLLECT_METADATA)
    static let genericProtocolExtension = UInt16(IFLA_VXLAN_GPE)
    static let vniFilter = UInt16(IFLA_VXLAN_VNIFILTER)
}

/// Links: RTM_NEWLINK dump replies, and the requests that create, change, mark, wake
/// and delete gatepeer's vxlan devices. Every request but create names the device by
/// index (a name could meanwhile be someone else's).
extension RtnetlinkCodec {
    static func parseLink(_ m: NetlinkMessage) -> ObservedLink? {
        guard let (ifi, a) = decode(m, type: RtnetlinkMessage.newLink, ifinfomsg.self),
              let name = a.string(IFLA.name) else { return nil }
        var link = ObservedLink(index: ifi.ifi_index, name: name)
        link.mtu = Int(a.u32(IFLA.mtu) ?? 0)
        link.alias = a.string(IFLA.alias)
        if let mac = a.bytes(IFLA.address), mac.count == 6 { link.mac = MACAddress(bytes: mac) }
        link.isUp = ifi.ifi_flags & UInt32(IFF_UP) != 0
        link.operState = operStateName(a.u8(IFLA.operState) ?? 0)
        if let s = a.raw(IFLA.stats64), s.count >= 32 {
            // struct rtnl_link_stats64 starts rx_packets, tx_packets, rx_bytes, tx_bytes.
            link.stats = LinkStats(rxPackets: s.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                                   rxBytes: s.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                                   txPackets: s.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                                   txBytes: s.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
        // IFLA_ALT_IFNAME repeats inside the property list: every one counts.
        if let props = a.nested(IFLA.propertyList) {
            link.altNames = props.all(IFLA.altName).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        if let info = a.nested(IFLA.linkInfo) {
            link.kind = info.string(IFLA.infoKind)
            if link.kind == "vxlan", let d = info.nested(IFLA.infoData) {
                link.vxlan = parseVXLAN(d)
            }
        }
        return link
    }

    private static func parseVXLAN(_ d: NetlinkAttributes) -> VXLANAttributes {
        var range = PortRange(low: 0, high: 0)
        if let r = d.raw(VXLANAttribute.portRange), r.count >= 4 {
            range = PortRange(kernelLow: UInt16(r[0]) << 8 | UInt16(r[1]), kernelHigh: UInt16(r[2]) << 8 | UInt16(r[3]))
        }
        var v = VXLANAttributes(
            id: d.u32(VXLANAttribute.id) ?? 0,
            port: d.be16(VXLANAttribute.port) ?? 0,
            portRange: range,
            local: d.address(VXLANAttribute.local) ?? d.address(VXLANAttribute.local6),
            underlayIndex: d.u32(VXLANAttribute.link).map { Int32(bitPattern: $0) },
            learning: (d.u8(VXLANAttribute.learning) ?? 0) != 0)
        v.group = d.address(VXLANAttribute.group) ?? d.address(VXLANAttribute.group6)
        // Flags the kernel sends as present-or-absent (GBP, GPE, REMCSUM_NOPARTIAL) or as u8.
        var rcv: [String] = []
        if d.has(VXLANAttribute.groupBasedPolicy) { rcv.append("gbp") }
        if d.has(VXLANAttribute.genericProtocolExtension) { rcv.append("gpe") }
        if (d.u8(VXLANAttribute.collectMetadata) ?? 0) != 0 { rcv.append("external") }
        if (d.u8(VXLANAttribute.remoteChecksumReceive) ?? 0) != 0 { rcv.append("remcsumrx") }
        if d.has(VXLANAttribute.remoteChecksumNoPartial) { rcv.append("remcsum-nopartial") }
        if (d.u8(VXLANAttribute.udpZeroChecksum6Receive) ?? 0) != 0 { rcv.append("udp6zerocsumrx") }
        v.receiveFlags = rcv.sorted()
        v.vniFilter = (d.u8(VXLANAttribute.vniFilter) ?? 0) != 0
        return v
    }

    static func operStateName(_ v: UInt8) -> String {
        ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"][Int(min(v, 6))]
    }

    /// An ifinfomsg naming the link by `index` (0 on create), with `flags` changed to
    /// their values in `flags` where `change` has a bit.
    private static func linkHeader(_ w: inout NetlinkWriter, index: Int32, flags: UInt32 = 0, change: UInt32 = 0) {
        var ifi = ifinfomsg()
        ifi.ifi_index = index
        ifi.ifi_flags = flags
        ifi.ifi_change = change
        w.fixedHeader(ifi)
    }

    /// The vxlan attributes that may change on a live device, plus (on create) the rest.
    private static func putVXLAN(_ w: inout NetlinkWriter, _ s: LinkSpec, create: Bool) {
        w.nest(IFLA.linkInfo) { w in
            w.attribute(IFLA.infoKind, string: "vxlan")
            w.nest(IFLA.infoData) { w in
                if create {
                    w.attribute(VXLANAttribute.id, u32: s.vxlanId)
                    w.attribute(VXLANAttribute.port, be16: s.port)
                    let r = s.portRange.kernelHalfOpen
                    w.attribute(VXLANAttribute.portRange, [UInt8(r.low >> 8), UInt8(r.low & 0xff), UInt8(r.high >> 8), UInt8(r.high & 0xff)])
                }
                w.attribute(VXLANAttribute.link, u32: UInt32(bitPattern: s.underlayIndex))
                w.attribute(s.local.family == .v4 ? VXLANAttribute.local : VXLANAttribute.local6, address: s.local)
                w.attribute(VXLANAttribute.learning, u8: s.learning ? 1 : 0)
            }
        }
    }

    static func createLink(_ b: RequestBatch, _ s: LinkSpec, tag: ChangeTag) {
        b.add("create link \(s.name)", tag: tag, type: RtnetlinkMessage.newLink, flags: NetlinkFlags.create | NetlinkFlags.exclusive) { w in
            linkHeader(&w, index: 0)
            w.attribute(IFLA.name, string: s.name)
            w.attribute(IFLA.mtu, u32: UInt32(s.mtu))
            w.attribute(IFLA.address, s.mac.bytes)
            putVXLAN(&w, s, create: true)
        }
    }

    /// The kernel ignores IFLA_IFALIAS on creation. The marker is set by index, and only
    /// once the create succeeded: by name it could land on a foreign device that took
    /// the name meanwhile. `tag`: the create's.
    static func markLink(_ b: RequestBatch, name: String, alias: String, index: Int32, tag: ChangeTag) {
        b.add("mark link \(name) as gatepeer's", tag: tag, type: RtnetlinkMessage.newLink) { w in
            linkHeader(&w, index: index)
            w.attribute(IFLA.alias, string: alias)
        }
    }

    /// Two requests: vxlan's changelink refuses IFLA_MTU next to IFLA_LINKINFO
    /// ("Cannot change mtu"), although a plain setlink changes it fine. The vxlan one
    /// goes first: the kernel checks a new MTU against the underlay the device has.
    static func changeLink(_ b: RequestBatch, _ s: LinkSpec, index: Int32, _ attrs: [Plan.AttributeChange], tag: ChangeTag) {
        let changed = Set(attrs.map(\.attribute))
        // In LinkAttribute's order, so the request's bytes do not depend on the plan's.
        let generic = LinkAttribute.allCases.compactMap { a in changed.contains(a) ? genericWrite(a, s).map { (a, $0) } : nil }
        let vxlan = LinkAttribute.allCases.filter { changed.contains($0) && genericWrite($0, s) == nil }
        func names(_ a: [LinkAttribute]) -> String { a.map(\.rawValue).sorted().joined(separator: ", ") }
        if !vxlan.isEmpty {
            b.add("change link \(s.name) (\(names(vxlan)))", tag: tag, type: RtnetlinkMessage.newLink) { w in
                linkHeader(&w, index: index)
                putVXLAN(&w, s, create: false)
            }
        }
        if !generic.isEmpty {
            b.add("change link \(s.name) (\(names(generic.map(\.0))))", tag: tag, type: RtnetlinkMessage.newLink) { w in
                linkHeader(&w, index: index)
                for (_, write) in generic { write(&w) }
            }
        }
    }

    /// How `a` is written in the generic (setlink) request; nil for an attribute of the
    /// vxlan request, which carries the device's whole vxlan data (putVXLAN).
    private static func genericWrite(_ a: LinkAttribute, _ s: LinkSpec) -> ((inout NetlinkWriter) -> Void)? {
        switch a {
        case .mtu: return { $0.attribute(IFLA.mtu, u32: UInt32(s.mtu)) }
        case .mac: return { $0.attribute(IFLA.address, s.mac.bytes) }
        case .alias: return { $0.attribute(IFLA.alias, string: s.alias) }
        case .local, .dev, .learning: return nil
        }
    }

    static func setLinkUp(_ b: RequestBatch, name: String, index: Int32, tag: ChangeTag) {
        b.add("set link \(name) up", tag: tag, type: RtnetlinkMessage.newLink) { w in
            linkHeader(&w, index: index, flags: UInt32(IFF_UP), change: UInt32(IFF_UP))
        }
    }

    static func deleteLink(_ b: RequestBatch, name: String, index: Int32, tag: ChangeTag) {
        b.add("delete link \(name)", tag: tag, type: RtnetlinkMessage.deleteLink) { w in
            linkHeader(&w, index: index)
        }
    }
}
