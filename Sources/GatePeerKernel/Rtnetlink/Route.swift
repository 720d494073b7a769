import CNetlink
import GatePeerCore

/// RTA_* attributes of a route message (<linux/rtnetlink.h>).
enum RouteAttribute {
    static let destination = UInt16(RTA_DST.rawValue)
    static let outputIndex = UInt16(RTA_OIF.rawValue)
    static let gateway = UInt16(RTA_GATEWAY.rawValue)
    static let priority = UInt16(RTA_PRIORITY.rawValue)
    static let table = UInt16(RTA_TABLE.rawValue)
}

/// Routes: RTM_NEWROUTE dump replies, and adding, replacing and deleting gatepeer's
/// LAN routes (protocol Ownership.routeProtocol, table main).
extension RtnetlinkCodec {
    static func parseRoute(_ m: NetlinkMessage) -> ObservedRoute? {
        guard let (rt, a) = decode(m, type: RtnetlinkMessage.newRoute, rtmsg.self),
              rt.rtm_family == UInt8(AF_INET) || rt.rtm_family == UInt8(AF_INET6) else { return nil }
        let zero = rt.rtm_family == UInt8(AF_INET) ? IPAddress(v4: 0) : IPAddress(v6High: 0, v6Low: 0)
        guard let p = IPPrefix(address: a.address(RouteAttribute.destination) ?? zero, length: Int(rt.rtm_dst_len)) else { return nil }
        return ObservedRoute(table: a.u32(RouteAttribute.table) ?? UInt32(rt.rtm_table),
                             protocolNumber: rt.rtm_protocol, destination: p,
                             gateway: a.address(RouteAttribute.gateway),
                             outputIndex: a.u32(RouteAttribute.outputIndex).map { Int32(bitPattern: $0) },
                             type: rt.rtm_type, priority: a.u32(RouteAttribute.priority), scope: rt.rtm_scope,
                             onlink: rt.rtm_flags & UInt32(RTNH_F_ONLINK) != 0)
    }

    enum RouteOp { case add, replace }

    private static func routeText(_ verb: String, _ destination: IPPrefix, _ via: IPAddress?, _ label: String) -> String {
        "\(verb) route \(destination)\(via.map { " via \($0)" } ?? "")\(label.isEmpty ? "" : " dev \(label)")"
    }

    /// A delete names the route exactly as observed (metric, scope, type), so a duplicate
    /// at another metric is the one removed.
    static func deleteRoute(_ b: RequestBatch, _ r: ObservedRoute, label: String, tag: ChangeTag) {
        b.add(routeText("delete", r.destination, r.gateway, label), tag: tag, type: RtnetlinkMessage.deleteRoute) { w in
            var rt = rtmsg()
            rt.rtm_family = family(r.destination.family)
            rt.rtm_dst_len = UInt8(r.destination.length)
            // Tables past 255 only fit RTA_TABLE; the header says "see the attribute".
            rt.rtm_table = r.table < 256 ? UInt8(r.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
            rt.rtm_protocol = r.protocolNumber
            rt.rtm_scope = r.scope
            rt.rtm_type = r.type
            w.fixedHeader(rt)
            w.attribute(RouteAttribute.table, u32: r.table)
            w.attribute(RouteAttribute.destination, address: r.destination.address)
            if let g = r.gateway { w.attribute(RouteAttribute.gateway, address: g) }
            if let o = r.outputIndex { w.attribute(RouteAttribute.outputIndex, u32: UInt32(bitPattern: o)) }
            if let p = r.priority { w.attribute(RouteAttribute.priority, u32: p) }
        }
    }

    /// `onlink`: RTNH_F_ONLINK in rtm_flags (the gateway needs no address of ours in its subnet).
    static func route(_ b: RequestBatch, _ op: RouteOp, destination: IPPrefix, via: IPAddress?, index: Int32?, label: String,
                      onlink: Bool = false, tag: ChangeTag) {
        let flags = NetlinkFlags.create | (op == .add ? NetlinkFlags.exclusive : NetlinkFlags.replace)
        b.add(routeText(op == .add ? "add" : "replace", destination, via, label), tag: tag, type: RtnetlinkMessage.newRoute, flags: flags) { w in
            var rt = rtmsg()
            rt.rtm_family = family(destination.family)
            rt.rtm_dst_len = UInt8(destination.length)
            rt.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
            rt.rtm_protocol = Ownership.routeProtocol
            rt.rtm_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
            rt.rtm_type = UInt8(RTN_UNICAST)
            if onlink { rt.rtm_flags = UInt32(RTNH_F_ONLINK) }
            w.fixedHeader(rt)
            w.attribute(RouteAttribute.destination, address: destination.address)
            if let via { w.attribute(RouteAttribute.gateway, address: via) }
            if let index { w.attribute(RouteAttribute.outputIndex, u32: UInt32(bitPattern: index)) }
        }
    }
}
