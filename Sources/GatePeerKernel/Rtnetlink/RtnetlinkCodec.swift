import CNetlink
import GatePeerCore
import Glibc

/// Encoding of gatepeer's requests and decoding of dump replies, one section per kernel
/// object. No decisions here: the planner decided; this only speaks the wire format.
enum RtnetlinkCodec {
    static let familyBridge = UInt8(AF_BRIDGE)

    static func family(_ f: IPAddress.Family) -> UInt8 { f == .v4 ? UInt8(AF_INET) : UInt8(AF_INET6) }

    // MARK: links

    static func parseLink(_ m: UnsafePointer<nlmsghdr>) -> ObservedLink? {
        guard Int32(m.pointee.nlmsg_type) == RTM_NEWLINK else { return nil }
        let ifi = mnl_nlmsg_get_payload(m)!.assumingMemoryBound(to: ifinfomsg.self).pointee
        let a = NetlinkAttributes(message: m, headerSize: MemoryLayout<ifinfomsg>.size)
        guard let name = a.string(UInt16(IFLA_IFNAME)) else { return nil }
        var link = ObservedLink(index: ifi.ifi_index, name: name)
        link.mtu = Int(a.u32(UInt16(IFLA_MTU)) ?? 0)
        link.alias = a.string(UInt16(IFLA_IFALIAS))
        if let mac = a.bytes(UInt16(IFLA_ADDRESS)), mac.count == 6 { link.mac = MACAddress(bytes: mac) }
        link.isUp = ifi.ifi_flags & UInt32(IFF_UP) != 0
        link.operState = operStateName(a.u8(UInt16(IFLA_OPERSTATE)) ?? 0)
        if let s = a.raw(UInt16(IFLA_STATS64)), s.count >= 32 {
            // struct rtnl_link_stats64 starts rx_packets, tx_packets, rx_bytes, tx_bytes.
            link.stats = LinkStats(rxPackets: s.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                                   rxBytes: s.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                                   txPackets: s.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                                   txBytes: s.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
        if let props = a.raw(UInt16(IFLA_PROP_LIST)) { link.altNames = altNames(props) }
        if let info = a.nested(UInt16(IFLA_LINKINFO)) {
            link.kind = info.string(UInt16(IFLA_INFO_KIND))
            if link.kind == "vxlan", let d = info.nested(UInt16(IFLA_INFO_DATA)) {
                var range = PortRange(low: 0, high: 0)
                if let r = d.raw(UInt16(IFLA_VXLAN_PORT_RANGE)), r.count >= 4 {
                    range = PortRange(kernelLow: UInt16(r[0]) << 8 | UInt16(r[1]), kernelHigh: UInt16(r[2]) << 8 | UInt16(r[3]))
                }
                link.vxlan = VXLANAttributes(
                    id: d.u32(UInt16(IFLA_VXLAN_ID)) ?? 0,
                    port: d.be16(UInt16(IFLA_VXLAN_PORT)) ?? 0,
                    portRange: range,
                    local: d.address(UInt16(IFLA_VXLAN_LOCAL)) ?? d.address(UInt16(IFLA_VXLAN_LOCAL6)),
                    underlayIndex: d.u32(UInt16(IFLA_VXLAN_LINK)).map { Int32(bitPattern: $0) },
                    learning: (d.u8(UInt16(IFLA_VXLAN_LEARNING)) ?? 0) != 0)
                link.vxlan?.group = d.address(UInt16(IFLA_VXLAN_GROUP)) ?? d.address(UInt16(IFLA_VXLAN_GROUP6))
                // Flags the kernel sends as present-or-absent (GBP, GPE, REMCSUM_NOPARTIAL) or as u8.
                var rcv: [String] = []
                if d.raw(UInt16(IFLA_VXLAN_GBP)) != nil { rcv.append("gbp") }
                if d.raw(UInt16(IFLA_VXLAN_GPE)) != nil { rcv.append("gpe") }
                if (d.u8(UInt16(IFLA_VXLAN_COLLECT_METADATA)) ?? 0) != 0 { rcv.append("external") }
                if (d.u8(UInt16(IFLA_VXLAN_REMCSUM_RX)) ?? 0) != 0 { rcv.append("remcsumrx") }
                if d.raw(UInt16(IFLA_VXLAN_REMCSUM_NOPARTIAL)) != nil { rcv.append("remcsum-nopartial") }
                if (d.u8(UInt16(IFLA_VXLAN_UDP_ZERO_CSUM6_RX)) ?? 0) != 0 { rcv.append("udp6zerocsumrx") }
                link.vxlan?.receiveFlags = rcv.sorted()
                link.vxlan?.vniFilter = (d.u8(UInt16(IFLA_VXLAN_VNIFILTER)) ?? 0) != 0
            }
        }
        return link
    }

    /// The IFLA_ALT_IFNAME strings of an IFLA_PROP_LIST nest. They repeat one type, so
    /// they are walked here (libmnl's validators) rather than looked up by type.
    static func altNames(_ nest: UnsafeRawBufferPointer) -> [String] {
        guard let base = nest.baseAddress else { return [] }
        var out: [String] = []
        var remaining = Int32(nest.count)
        var attr = base.assumingMemoryBound(to: nlattr.self)
        while remaining > 0 && mnl_attr_ok(attr, remaining) {
            if mnl_attr_get_type(attr) == UInt16(IFLA_ALT_IFNAME), let p = mnl_attr_get_str(attr) {
                out.append(String(cString: p))
            }
            let next = UnsafePointer(mnl_attr_next(attr)!)
            remaining -= Int32(UnsafeRawPointer(next) - UnsafeRawPointer(attr))
            attr = next
        }
        return out
    }

    static func operStateName(_ v: UInt8) -> String {
        ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"][Int(min(v, 6))]
    }

    /// The vxlan attributes that may change on a live device, plus (on create) the rest.
    private static func putVXLAN(_ nlh: UnsafeMutablePointer<nlmsghdr>, _ s: LinkSpec, create: Bool) {
        nlh.nest(Int(IFLA_LINKINFO)) {
            nlh.putString(Int(IFLA_INFO_KIND), "vxlan")
            nlh.nest(Int(IFLA_INFO_DATA)) {
                if create {
                    nlh.putU32(Int(IFLA_VXLAN_ID), s.vxlanId)
                    nlh.put(Int(IFLA_VXLAN_PORT), [UInt8(s.port >> 8), UInt8(s.port & 0xff)])
                    let r = s.portRange.kernelHalfOpen
                    nlh.put(Int(IFLA_VXLAN_PORT_RANGE), [UInt8(r.low >> 8), UInt8(r.low & 0xff), UInt8(r.high >> 8), UInt8(r.high & 0xff)])
                }
                nlh.putU32(Int(IFLA_VXLAN_LINK), UInt32(bitPattern: s.underlayIndex))
                nlh.put(Int(s.local.family == .v4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6), s.local.bytes)
                nlh.putU8(Int(IFLA_VXLAN_LEARNING), s.learning ? 1 : 0)
            }
        }
    }

    static func createLink(_ b: RequestBatch, _ s: LinkSpec) {
        b.add("create link \(s.name)") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_EXCL)
            _ = nlh.header(ifinfomsg.self)
            nlh.putString(Int(IFLA_IFNAME), s.name)
            nlh.putU32(Int(IFLA_MTU), UInt32(s.mtu))
            nlh.put(Int(IFLA_ADDRESS), s.mac.bytes)
            putVXLAN(nlh, s, create: true)
        }
    }

    /// The kernel ignores IFLA_IFALIAS on creation. The marker is set by index, and only
    /// once the create succeeded: by name it could land on a foreign device that took
    /// the name meanwhile.
    static func markLink(_ b: RequestBatch, name: String, alias: String, index: Int32) {
        b.add("mark link \(name) as gatepeer's") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
            nlh.header(ifinfomsg.self).pointee.ifi_index = index
            nlh.putString(Int(IFLA_IFALIAS), alias)
        }
    }

    static func changeLink(_ b: RequestBatch, _ s: LinkSpec, index: Int32, _ attrs: [Plan.AttributeChange]) {
        let names = Set(attrs.map(\.attribute))
        let generic = names.intersection(["mtu", "mac", "alias"])
        let vxlan = names.intersection(["local", "dev", "learning"])
        // Two requests: vxlan's changelink refuses IFLA_MTU next to IFLA_LINKINFO
        // ("Cannot change mtu"), although a plain setlink changes it fine. The vxlan one
        // goes first: the kernel checks a new MTU against the underlay the device has.
        if !vxlan.isEmpty {
            b.add("change link \(s.name) (\(vxlan.sorted().joined(separator: ", ")))") { nlh in
                nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
                nlh.header(ifinfomsg.self).pointee.ifi_index = index
                putVXLAN(nlh, s, create: false)
            }
        }
        if !generic.isEmpty {
            b.add("change link \(s.name) (\(generic.sorted().joined(separator: ", ")))") { nlh in
                nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
                nlh.header(ifinfomsg.self).pointee.ifi_index = index
                if generic.contains("mtu") { nlh.putU32(Int(IFLA_MTU), UInt32(s.mtu)) }
                if generic.contains("mac") { nlh.put(Int(IFLA_ADDRESS), s.mac.bytes) }
                if generic.contains("alias") { nlh.putString(Int(IFLA_IFALIAS), s.alias) }
            }
        }
    }

    static func setLinkUp(_ b: RequestBatch, name: String, index: Int32) {
        b.add("set link \(name) up") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
            let ifi = nlh.header(ifinfomsg.self)
            ifi.pointee.ifi_index = index
            ifi.pointee.ifi_flags = UInt32(IFF_UP)
            ifi.pointee.ifi_change = UInt32(IFF_UP)
        }
    }

    static func deleteLink(_ b: RequestBatch, name: String, index: Int32) {
        b.add("delete link \(name)") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_DELLINK)
            nlh.header(ifinfomsg.self).pointee.ifi_index = index
        }
    }

    // MARK: addresses

    static func parseAddress(_ m: UnsafePointer<nlmsghdr>) -> ObservedAddress? {
        guard Int32(m.pointee.nlmsg_type) == RTM_NEWADDR else { return nil }
        let ifa = mnl_nlmsg_get_payload(m)!.assumingMemoryBound(to: ifaddrmsg.self).pointee
        let a = NetlinkAttributes(message: m, headerSize: MemoryLayout<ifaddrmsg>.size)
        guard let addr = a.address(UInt16(IFA_LOCAL)) ?? a.address(UInt16(IFA_ADDRESS)),
              let p = IPPrefix(address: addr, length: Int(ifa.ifa_prefixlen)) else { return nil }
        return ObservedAddress(linkIndex: Int32(bitPattern: ifa.ifa_index), prefix: p)
    }

    static func address(_ b: RequestBatch, add: Bool, link: String, index: Int32, _ p: IPPrefix) {
        b.add("\(add ? "add" : "delete") address \(p) on \(link)") { nlh in
            nlh.pointee.nlmsg_type = UInt16(add ? RTM_NEWADDR : RTM_DELADDR)
            if add { nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_EXCL) }
            let ifa = nlh.header(ifaddrmsg.self)
            ifa.pointee.ifa_family = family(p.family)
            ifa.pointee.ifa_prefixlen = UInt8(p.length)
            ifa.pointee.ifa_index = UInt32(bitPattern: index)
            nlh.put(Int(IFA_LOCAL), p.address.bytes)
            nlh.put(Int(IFA_ADDRESS), p.address.bytes)
        }
    }

    // MARK: FDB (AF_BRIDGE neighbours on the vxlan device)

    /// Every attribute that identifies or steers an entry (see ObservedFDBEntry).
    static func parseFDB(_ m: UnsafePointer<nlmsghdr>) -> ObservedFDBEntry? {
        guard Int32(m.pointee.nlmsg_type) == RTM_NEWNEIGH else { return nil }
        let nd = mnl_nlmsg_get_payload(m)!.assumingMemoryBound(to: ndmsg.self).pointee
        guard nd.ndm_family == familyBridge else { return nil }
        let a = NetlinkAttributes(message: m, headerSize: MemoryLayout<ndmsg>.size)
        guard let mb = a.bytes(UInt16(NDA_LLADDR)), let mac = MACAddress(bytes: mb) else { return nil }
        return ObservedFDBEntry(linkIndex: nd.ndm_ifindex, mac: mac, destination: a.address(UInt16(NDA_DST)),
                                state: nd.ndm_state, flags: nd.ndm_flags,
                                port: a.be16(UInt16(NDA_PORT)), vni: a.u32(UInt16(NDA_VNI)),
                                sourceVNI: a.u32(UInt16(NDA_SRC_VNI)),
                                outgoingIndex: a.u32(UInt16(NDA_IFINDEX)).map { Int32(bitPattern: $0) })
    }

    /// Appends the all-zero entry toward a gate peer with the device's port and VNI.
    static func appendFDB(_ b: RequestBatch, link: String, index: Int32, destination: IPAddress) {
        b.add("append fdb 00:00:00:00:00:00 dst \(destination) on \(link)") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWNEIGH)
            // APPEND: several all-zero entries coexist, one per gate peer.
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_APPEND)
            let nd = nlh.header(ndmsg.self)
            nd.pointee.ndm_family = familyBridge
            nd.pointee.ndm_ifindex = index
            nd.pointee.ndm_state = UInt16(NUD_PERMANENT)
            nd.pointee.ndm_flags = UInt8(NTF_SELF)
            nlh.put(Int(NDA_LLADDR), MACAddress.zero.bytes)
            nlh.put(Int(NDA_DST), destination.bytes)
        }
    }

    /// Deletes one entry exactly as observed. The vxlan driver fills every attribute left
    /// out with the device's own value and then looks for a remote matching destination,
    /// port, VNI and outgoing device; when none matches it answers success and deletes
    /// nothing, so a delete that names only the destination misses a drifted entry.
    static func deleteFDB(_ b: RequestBatch, link: String, _ e: ObservedFDBEntry) {
        b.add("delete fdb \(e.mac)\(e.destination.map { " dst \($0)" } ?? "")\(e.attributeText) on \(link)") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_DELNEIGH)
            let nd = nlh.header(ndmsg.self)
            nd.pointee.ndm_family = familyBridge
            nd.pointee.ndm_ifindex = e.linkIndex
            nd.pointee.ndm_state = e.state
            // NTF_SELF: the device's own table (a bridge master's would take NTF_MASTER).
            nd.pointee.ndm_flags = UInt8(NTF_SELF)
            nlh.put(Int(NDA_LLADDR), e.mac.bytes)
            if let d = e.destination { nlh.put(Int(NDA_DST), d.bytes) }
            if let p = e.port { nlh.put(Int(NDA_PORT), [UInt8(p >> 8), UInt8(p & 0xff)]) }
            if let v = e.vni { nlh.putU32(Int(NDA_VNI), v) }
            if let v = e.sourceVNI { nlh.putU32(Int(NDA_SRC_VNI), v) }
            if let i = e.outgoingIndex { nlh.putU32(Int(NDA_IFINDEX), UInt32(bitPattern: i)) }
        }
    }

    // MARK: routes

    static func parseRoute(_ m: UnsafePointer<nlmsghdr>) -> ObservedRoute? {
        guard Int32(m.pointee.nlmsg_type) == RTM_NEWROUTE else { return nil }
        let rt = mnl_nlmsg_get_payload(m)!.assumingMemoryBound(to: rtmsg.self).pointee
        guard rt.rtm_family == UInt8(AF_INET) || rt.rtm_family == UInt8(AF_INET6) else { return nil }
        let a = NetlinkAttributes(message: m, headerSize: MemoryLayout<rtmsg>.size)
        let zero = rt.rtm_family == UInt8(AF_INET) ? IPAddress(v4: 0) : IPAddress(v6High: 0, v6Low: 0)
        guard let p = IPPrefix(address: a.address(UInt16(RTA_DST.rawValue)) ?? zero, length: Int(rt.rtm_dst_len)) else { return nil }
        return ObservedRoute(table: a.u32(UInt16(RTA_TABLE.rawValue)) ?? UInt32(rt.rtm_table),
                             protocolNumber: rt.rtm_protocol, destination: p,
                             gateway: a.address(UInt16(RTA_GATEWAY.rawValue)),
                             outputIndex: a.u32(UInt16(RTA_OIF.rawValue)).map { Int32(bitPattern: $0) },
                             type: rt.rtm_type, priority: a.u32(UInt16(RTA_PRIORITY.rawValue)), scope: rt.rtm_scope)
    }

    enum RouteOp { case add, replace }

    /// A delete names the route exactly as observed (metric, scope, type), so a duplicate
    /// at another metric is the one removed.
    static func deleteRoute(_ b: RequestBatch, _ r: ObservedRoute, label: String) {
        b.add("delete route \(r.destination)\(r.gateway.map { " via \($0)" } ?? "")\(label.isEmpty ? "" : " dev \(label)")") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_DELROUTE)
            let rt = nlh.header(rtmsg.self)
            rt.pointee.rtm_family = family(r.destination.family)
            rt.pointee.rtm_dst_len = UInt8(r.destination.length)
            rt.pointee.rtm_table = r.table < 256 ? UInt8(r.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
            rt.pointee.rtm_protocol = r.protocolNumber
            rt.pointee.rtm_scope = r.scope
            rt.pointee.rtm_type = r.type
            nlh.putU32(Int(RTA_TABLE.rawValue), r.table)
            nlh.put(Int(RTA_DST.rawValue), r.destination.address.bytes)
            if let g = r.gateway { nlh.put(Int(RTA_GATEWAY.rawValue), g.bytes) }
            if let o = r.outputIndex { nlh.putU32(Int(RTA_OIF.rawValue), UInt32(bitPattern: o)) }
            if let p = r.priority { nlh.putU32(Int(RTA_PRIORITY.rawValue), p) }
        }
    }

    static func route(_ b: RequestBatch, _ op: RouteOp, destination: IPPrefix, via: IPAddress?, index: Int32?, label: String) {
        b.add("\(op == .add ? "add" : "replace") route \(destination)\(via.map { " via \($0)" } ?? "")\(label.isEmpty ? "" : " dev \(label)")") { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWROUTE)
            switch op {
            case .add: nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_EXCL)
            case .replace: nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_REPLACE)
            }
            let rt = nlh.header(rtmsg.self)
            rt.pointee.rtm_family = family(destination.family)
            rt.pointee.rtm_dst_len = UInt8(destination.length)
            rt.pointee.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
            rt.pointee.rtm_protocol = Ownership.routeProtocol
            rt.pointee.rtm_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
            rt.pointee.rtm_type = UInt8(RTN_UNICAST)
            nlh.put(Int(RTA_DST.rawValue), destination.address.bytes)
            if let via { nlh.put(Int(RTA_GATEWAY.rawValue), via.bytes) }
            if let index { nlh.putU32(Int(RTA_OIF.rawValue), UInt32(bitPattern: index)) }
        }
    }
}
