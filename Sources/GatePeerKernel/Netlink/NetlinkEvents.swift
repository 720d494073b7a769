import CNetlink
import GatePeerCore
import Glibc

/// The daemon's two event sockets: NETLINK_ROUTE subscribed to the link, neighbour,
/// IPv4/IPv6 address, IPv4/IPv6 route and IPv4/IPv6 netconf groups, and
/// NETLINK_NETFILTER subscribed to NFNLGRP_NFTABLES. Both are non-blocking and have a
/// receive buffer raised with SO_RCVBUFFORCE. Open them before the first dump (the
/// first reconcile): a change made after that dump then always arrives as an event.
///
/// Messages are decoded with the dump codecs (RtnetlinkCodec, NetlinkReader). A recv
/// that fails with ENOBUFS means the kernel dropped events because the buffer was full:
/// `drain` reports it as an overrun, never as "nothing happened"; so does a datagram
/// larger than the read buffer (MSG_TRUNC) and any other receive error.
///
/// Notifications of our own requests (nlmsg_pid one of OwnPorts) are counted and dropped:
/// they say what the apply that caused them already read back. While gatepeer loads its
/// own table, `listenToNftables(false)` leaves NFNLGRP_NFTABLES: a 100,000-rule load
/// makes a notification per rule and element, more than any receive buffer holds.
public final class KernelEventSocket {
    private let route: NetlinkSocket
    private let netfilter: NetlinkSocket
    private var buffer: [UInt8]
    private static let readSize = 256 << 10

    /// What one `drain` read: the decoded events in order, how many messages that was,
    /// and whether events were lost (ENOBUFS, a truncated datagram, a receive error).
    public struct Batch: Sendable {
        public var events: [KernelEvent] = []
        public var overrun = false
        /// The errno that made it an overrun (ENOBUFS most of the time), for the log.
        public var overrunErrno: Int32 = 0
        /// Notifications of our own requests, dropped (see the type's comment).
        public var own = 0
        /// True when `drain` stopped at `maxDatagrams` with more waiting: the caller
        /// comes back (the descriptor stays readable) after other work had its turn.
        public var more = false
    }

    /// Datagrams one `drain` reads at most (256 KiB each): a flood of events is read in
    /// turns with the queue's other work (probes, signals, the watchdog), not in one go.
    public static let maxDatagrams = 64

    /// The rtnetlink groups, as <linux/rtnetlink.h> numbers them (NETLINK_ADD_MEMBERSHIP
    /// takes the group number, not a bit mask).
    static let routeGroups: [UInt32] = [
        RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
        RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_NETCONF, RTNLGRP_IPV6_NETCONF,
    ].map(\.rawValue)

    /// `receiveBuffer`: bytes asked of SO_RCVBUFFORCE (the kernel doubles it for its
    /// bookkeeping); a burst larger than that is an overrun. Throws KernelError naming
    /// the socket and the failed call.
    public init(receiveBuffer: Int32 = 4 << 20) throws {
        route = try NetlinkSocket(bus: NETLINK_ROUTE)
        netfilter = try NetlinkSocket(bus: NETLINK_NETFILTER)
        buffer = [UInt8](repeating: 0, count: Self.readSize)
        for (s, groups, what) in [(route, Self.routeGroups, "rtnetlink event socket"),
                                  (netfilter, [UInt32(NFNLGRP_NFTABLES.rawValue)], "nf_tables event socket")] {
            for g in groups {
                var group = Int32(g)
                guard setsockopt(s.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw KernelError(object: "\(what): NETLINK_ADD_MEMBERSHIP \(g)", errno: Glibc.errno)
                }
            }
            s.setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, receiveBuffer)
            let flags = fcntl(s.fd, F_GETFL)
            guard flags >= 0, fcntl(s.fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
                throw KernelError(object: "\(what): O_NONBLOCK", errno: Glibc.errno)
            }
        }
    }

    /// The descriptors to watch for readability (rtnetlink first, then nf_tables).
    public var descriptors: [Int32] { [route.fd, netfilter.fd] }

    /// Joins (true) or leaves (false) NFNLGRP_NFTABLES. Leaving keeps what is queued
    /// already; what happens until the group is joined again is not seen, so the caller
    /// reads the kernel afresh after joining. Throws KernelError naming the call.
    public func listenToNftables(_ on: Bool) throws {
        var group = Int32(NFNLGRP_NFTABLES.rawValue)
        let option = on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP
        guard setsockopt(netfilter.fd, SOL_NETLINK, option, &group, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw KernelError(object: "nf_tables event socket: \(on ? "NETLINK_ADD_MEMBERSHIP" : "NETLINK_DROP_MEMBERSHIP") \(group)", errno: Glibc.errno)
        }
    }

    /// Reads every datagram waiting on `fd` (one of `descriptors`) without blocking and
    /// decodes it. Stops at EAGAIN; an overrun is reported and reading goes on, so the
    /// events after it are not lost too.
    public func drain(_ fd: Int32) -> Batch {
        var batch = Batch()
        let netfilterBus = fd == netfilter.fd
        var datagrams = 0
        while true {
            if datagrams == Self.maxDatagrams {
                batch.more = true
                break
            }
            datagrams += 1
            let n = buffer.withUnsafeMutableBytes { b in
                retryingInterrupts { recv(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC)) }
            }
            if n < 0 {
                let e = Errno.current.rawValue
                if e == EAGAIN || e == EWOULDBLOCK { break }
                batch.overrun = true
                batch.overrunErrno = e
                if e == ENOBUFS { continue }
                break
            }
            if n > buffer.count {
                // MSG_TRUNC returns the datagram's real length: the rest of it is gone.
                batch.overrun = true
                batch.overrunErrno = EMSGSIZE
                continue
            }
            buffer.withUnsafeBytes { b in
                do {
                    try NetlinkReader.forEachMessage(in: UnsafeRawBufferPointer(rebasing: b[0..<n])) { m in
                        if OwnPorts.contains(m.portID) {
                            batch.own += 1
                            return
                        }
                        batch.events.append(netfilterBus ? Self.decodeNftables(m) : Self.decodeRoute(m))
                    }
                } catch {
                    // A malformed datagram: what it said is unknown, so resync.
                    batch.overrun = true
                    batch.overrunErrno = EBADMSG
                }
            }
        }
        return batch
    }

    /// `m` with its type replaced: the dump parsers accept only RTM_NEW*, and an RTM_DEL*
    /// carries the same header and attributes.
    private static func retyped(_ m: NetlinkMessage, _ type: UInt16) -> NetlinkMessage {
        NetlinkMessage(type: type, flags: m.flags, sequence: m.sequence, portID: m.portID, payload: m.payload)
    }

    /// One rtnetlink notification as a KernelEvent: `.undecodable` for a link, address,
    /// route, neighbour or netconf message the codecs refuse, `.other` for other types.
    static func decodeRoute(_ m: NetlinkMessage) -> KernelEvent {
        typealias R = RtnetlinkMessage
        switch m.type {
        case R.newLink, R.deleteLink:
            return RtnetlinkCodec.parseLink(retyped(m, R.newLink)).map { .link($0, deleted: m.type == R.deleteLink) } ?? .undecodable(type: m.type)
        case R.newAddress, R.deleteAddress:
            return RtnetlinkCodec.parseAddress(retyped(m, R.newAddress)).map { .address($0, deleted: m.type == R.deleteAddress) } ?? .undecodable(type: m.type)
        case R.newRoute, R.deleteRoute:
            return RtnetlinkCodec.parseRoute(retyped(m, R.newRoute)).map { .route($0, deleted: m.type == R.deleteRoute) } ?? .undecodable(type: m.type)
        case R.newNeighbour, R.deleteNeighbour:
            guard let nd = m.fixedHeader(ndmsg.self) else { return .undecodable(type: m.type) }
            if nd.ndm_family != RtnetlinkCodec.familyBridge { return .neighbour(linkIndex: nd.ndm_ifindex) }
            return RtnetlinkCodec.parseFDB(retyped(m, R.newNeighbour)).map { .fdb($0, deleted: m.type == R.deleteNeighbour) } ?? .undecodable(type: m.type)
        case UInt16(RTM_NEWNETCONF), UInt16(RTM_DELNETCONF):
            // struct netconfmsg is one byte (ncm_family), padded to 4.
            guard let index = m.attributes(after: 1).u32(UInt16(NETCONFA_IFINDEX)) else { return .undecodable(type: m.type) }
            return .netconf(linkIndex: Int32(bitPattern: index))
        default:
            return .other(type: m.type)
        }
    }

    /// One nf_tables notification: nlmsg_type is NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_*,
    /// the payload a struct nfgenmsg (family first) and attributes. Every object message
    /// names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE,
    /// NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE);
    /// NFT_MSG_NEWGEN names none.
    static func decodeNftables(_ m: NetlinkMessage) -> KernelEvent {
        guard m.type >> 8 == UInt16(NFNL_SUBSYS_NFTABLES) else { return .other(type: m.type) }
        guard let family = m.payload.first else { return .undecodable(type: m.type) }
        let message = UInt32(m.type & 0xff)
        if message == NFT_MSG_NEWGEN.rawValue { return .nftables(table: nil, family: family, deleted: false) }
        let deletes: Set<UInt32> = [NFT_MSG_DELTABLE, NFT_MSG_DELCHAIN, NFT_MSG_DELRULE, NFT_MSG_DELSET,
                                    NFT_MSG_DELSETELEM, NFT_MSG_DELOBJ, NFT_MSG_DELFLOWTABLE].map(\.rawValue).reduce(into: []) { $0.insert($1) }
        let table = m.attributes(after: 4).string(UInt16(NFTA_TABLE_NAME.rawValue))
        return .nftables(table: table, family: family, deleted: deletes.contains(message))
    }
}

extension Kernel {
    /// ifindex -> name of every device in the namespace (one link dump), for EventScope.
    public func linkNames() throws -> [Int32: String] {
        Dictionary(try indexesByName().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    }
}
