import CNetlink
import GatePeerCore
import Glibc

/// Encoding of gatepeer's rtnetlink requests and decoding of dump replies, one file per
/// kernel object (Link, Address, Neighbour for the FDB, Route), all written with
/// NetlinkWriter and read with NetlinkReader. No decisions here: the planner decided;
/// this only speaks the wire format of <linux/rtnetlink.h>.
enum RtnetlinkCodec {
    static let familyBridge = UInt8(AF_BRIDGE)

    static func family(_ f: IPAddress.Family) -> UInt8 { f == .v4 ? UInt8(AF_INET) : UInt8(AF_INET6) }

    /// The family header of `m` and the attributes after it; nil when `m` is not of
    /// `type` or too short for the header.
    static func decode<H>(_ m: NetlinkMessage, type: UInt16, _ header: H.Type) -> (H, NetlinkAttributes)? {
        guard m.type == type, let h = m.fixedHeader(H.self) else { return nil }
        return (h, m.attributes(after: MemoryLayout<H>.size))
    }
}

/// rtnetlink message types (<linux/rtnetlink.h>).
enum RtnetlinkMessage {
    static let newLink = UInt16(RTM_NEWLINK)
    static let deleteLink = UInt16(RTM_DELLINK)
    static let getLink = UInt16(RTM_GETLINK)
    static let newAddress = UInt16(RTM_NEWADDR)
    static let deleteAddress = UInt16(RTM_DELADDR)
    static let getAddress = UInt16(RTM_GETADDR)
    static let newNeighbour = UInt16(RTM_NEWNEIGH)
    static let deleteNeighbour = UInt16(RTM_DELNEIGH)
    static let getNeighbour = UInt16(RTM_GETNEIGH)
    static let newRoute = UInt16(RTM_NEWROUTE)
    static let deleteRoute = UInt16(RTM_DELROUTE)
    static let getRoute = UInt16(RTM_GETROUTE)
}
