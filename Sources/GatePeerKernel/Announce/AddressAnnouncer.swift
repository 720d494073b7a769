import GatePeerCore
import Glibc

/// Tells a segment at once that an address now lives here: gratuitous ARP for IPv4, an
/// unsolicited neighbour advertisement for IPv6 (RFC 4861 7.2.6), as `gatepeer ha notify
/// MASTER` does for every address keepalived moved to this node, on the underlay and on
/// the vxlan device (where the frame is flooded to every VPG gate peer through the
/// tunnel), so neighbours and the VPG side do not wait for their caches to expire.
///
/// Our own sockets rather than `arping`/`ndisc6`: no package more on every VM, one
/// binary whose lines land in the same log, and iputils' arping sends no IPv6 while
/// ndisc6 solicits but cannot send an unsolicited advertisement. It needs CAP_NET_RAW
/// (keepalived runs notify scripts as root; the gatepeer.service unit's own sandbox,
/// which has no AF_PACKET, is not involved).
public enum AddressAnnouncer {
    /// Sends `count` announcements of `address` on the device `index` whose MAC is `mac`,
    /// `gap` seconds apart. Throws SystemError naming the call and the address.
    public static func announce(_ address: IPAddress, device: String, index: Int32, mac: MACAddress,
                                count: Int = 2, gap: Double = 0.1) throws(SystemError) {
        for i in 0..<max(count, 1) {
            if i > 0 { usleep(UInt32(gap * 1_000_000)) }
            if address.family == .v4 {
                try gratuitousARP(address, device: device, index: index, mac: mac)
            } else {
                try unsolicitedNA(address, device: device, index: index, mac: mac)
            }
        }
    }

    /// The ARP packet of a gratuitous ARP request (RFC 5227 "ARP announcement"): sender
    /// and target protocol address both `address`, sender hardware address `mac`, target
    /// hardware address zero; op 1 (request), as the kernel's arping and keepalived send it.
    public static func arpPayload(_ address: IPAddress, mac: MACAddress) -> [UInt8] {
        var p: [UInt8] = [0, 1, 0x08, 0x00, 6, 4, 0, 1]   // Ethernet, IPv4, hlen 6, plen 4, request
        p += mac.bytes
        p += address.bytes
        p += [0, 0, 0, 0, 0, 0]
        p += address.bytes
        return p
    }

    /// An unsolicited neighbour advertisement for `address` (ICMPv6 type 136): Override
    /// flag set, not solicited, not a router, with the target link-layer address option.
    /// The checksum is left zero: the kernel fills it in for ICMPv6 raw sockets.
    public static func advertisement(_ address: IPAddress, mac: MACAddress) -> [UInt8] {
        var p: [UInt8] = [136, 0, 0, 0, 0x20, 0, 0, 0]
        p += address.bytes
        p += [2, 1] + mac.bytes   // option 2: target link-layer address, 8 bytes
        return p
    }

    private static func gratuitousARP(_ address: IPAddress, device: String, index: Int32, mac: MACAddress) throws(SystemError) {
        let what = "gratuitous ARP for \(address) on \(device)"
        let proto = UInt16(0x0806).bigEndian   // ETH_P_ARP (<linux/if_ether.h>)
        let s = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(proto))
        guard s >= 0 else { throw SystemError("socket(AF_PACKET)", what, .current) }
        defer { close(s) }
        // struct sockaddr_ll (<linux/if_packet.h>, which cannot join Glibc in one module:
        // it hides SOCK_*): family u16, protocol be16, ifindex i32, hatype u16, pkttype u8,
        // halen u8, addr[8]; 20 bytes, host order but the protocol. Sent to broadcast.
        var to = [UInt8](repeating: 0, count: 20)
        withUnsafeBytes(of: UInt16(AF_PACKET)) { for (i, b) in $0.enumerated() { to[i] = b } }
        withUnsafeBytes(of: proto) { for (i, b) in $0.enumerated() { to[2 + i] = b } }
        withUnsafeBytes(of: index) { for (i, b) in $0.enumerated() { to[4 + i] = b } }
        to[11] = 6
        for i in 12..<18 { to[i] = 0xff }
        let p = arpPayload(address, mac: mac)
        let n = to.withUnsafeBytes { sa in
            p.withUnsafeBytes { sendto(s, $0.baseAddress, $0.count, 0, sa.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(sa.count)) }
        }
        guard n == p.count else { throw SystemError("sendto", what, n < 0 ? .current : .ioError) }
    }

    private static func unsolicitedNA(_ address: IPAddress, device: String, index: Int32, mac: MACAddress) throws(SystemError) {
        let what = "unsolicited neighbour advertisement for \(address) on \(device)"
        let s = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMPV6))
        guard s >= 0 else { throw SystemError("socket(SOCK_RAW, ICMPv6)", what, .current) }
        defer { close(s) }
        // RFC 4861 7.1.2: a receiver drops a neighbour advertisement whose hop limit is not 255.
        var hops: Int32 = 255
        var ifindex = UInt32(bitPattern: index)
        guard setsockopt(s, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0,
              setsockopt(s, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &ifindex, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            throw SystemError("setsockopt(IPV6_MULTICAST_HOPS/IF)", what, .current)
        }
        var to = sockaddr_in6()
        to.sin6_family = sa_family_t(AF_INET6)
        to.sin6_scope_id = ifindex
        let allNodes = IPAddress("ff02::1")!.bytes
        withUnsafeMutableBytes(of: &to.sin6_addr) { raw in for (i, b) in allNodes.enumerated() { raw[i] = b } }
        let p = advertisement(address, mac: mac)
        let n = withUnsafePointer(to: &to) { sa in
            sa.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                p.withUnsafeBytes { sendto(s, $0.baseAddress, $0.count, 0, sp, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        guard n == p.count else { throw SystemError("sendto", what, n < 0 ? .current : .ioError) }
    }
}
