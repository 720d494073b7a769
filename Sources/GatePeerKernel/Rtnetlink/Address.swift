import CNetlink
import GatePeerCore

/// IFA_* attributes of an address message (<linux/if_addr.h>).
enum AddressAttribute {
    static let address = UInt16(IFA_ADDRESS)
    static let local = UInt16(IFA_LOCAL)
    static let cacheInfo = UInt16(IFA_CACHEINFO)
}

/// Addresses: RTM_NEWADDR dump replies, and adding and deleting gatepeer's addresses on
/// its devices (by index).
extension RtnetlinkCodec {
    static func parseAddress(_ m: NetlinkMessage) -> ObservedAddress? {
        guard let (ifa, a) = decode(m, type: RtnetlinkMessage.newAddress, ifaddrmsg.self),
              let addr = a.address(AddressAttribute.local) ?? a.address(AddressAttribute.address),
              let p = IPPrefix(address: addr, length: Int(ifa.ifa_prefixlen)) else { return nil }
        // struct ifa_cacheinfo { prefered, valid, cstamp, tstamp }, u32 each, host order.
        var created: Double? = nil
        if let c = a.raw(AddressAttribute.cacheInfo), c.count >= 16 {
            created = Double(c.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) / 100
        }
        return ObservedAddress(linkIndex: Int32(bitPattern: ifa.ifa_index), prefix: p, createdSeconds: created)
    }

    static func address(_ b: RequestBatch, add: Bool, link: String, index: Int32, _ p: IPPrefix, tag: ChangeTag) {
        b.add("\(add ? "add" : "delete") address \(p) on \(link)", tag: tag,
              type: add ? RtnetlinkMessage.newAddress : RtnetlinkMessage.deleteAddress,
              flags: add ? NetlinkFlags.create | NetlinkFlags.exclusive : 0) { w in
            var ifa = ifaddrmsg()
            ifa.ifa_family = family(p.family)
            ifa.ifa_prefixlen = UInt8(p.length)
            ifa.ifa_index = UInt32(bitPattern: index)
            w.fixedHeader(ifa)
            w.attribute(AddressAttribute.local, address: p.address)
            w.attribute(AddressAttribute.address, address: p.address)
        }
    }
}
