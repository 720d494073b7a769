import CNetlink

/// nlmsg_flags of <linux/netlink.h>, typed once so requests read without casts.
enum NetlinkFlags {
    static let request = UInt16(NLM_F_REQUEST)
    static let ack = UInt16(NLM_F_ACK)
    static let dump = UInt16(NLM_F_DUMP)
    static let create = UInt16(NLM_F_CREATE)
    static let exclusive = UInt16(NLM_F_EXCL)
    static let replace = UInt16(NLM_F_REPLACE)
    static let append = UInt16(NLM_F_APPEND)
    /// On a dump reply: the table changed while it was read; the dump is incomplete.
    static let dumpInterrupted = UInt16(NLM_F_DUMP_INTR)
    /// On an NLMSG_ERROR: the request is echoed by its header only (NETLINK_CAP_ACK).
    static let capped = UInt16(NLM_F_CAPPED)
    /// On an NLMSG_ERROR: extended-ACK attributes (NLMSGERR_ATTR_*) follow.
    static let ackTLVs = UInt16(NLM_F_ACK_TLVS)
}

/// Control message types of <linux/netlink.h>.
enum NetlinkMessageType {
    static let error = UInt16(NLMSG_ERROR)
    static let done = UInt16(NLMSG_DONE)
}

/// The flag bits of nla_type; the kernel's type is what is left (NLA_TYPE_MASK).
enum NetlinkAttributeFlags {
    static let nested = UInt16(NLA_F_NESTED)
    static let typeMask: UInt16 = 0x3fff
}

/// The extended-ACK attributes of an NLMSG_ERROR (enum nlmsgerr_attrs).
enum NetlinkErrorAttribute {
    static let message = UInt16(NLMSGERR_ATTR_MSG.rawValue)
    /// Byte offset, from the start of the echoed request, of the attribute it refused.
    static let offset = UInt16(NLMSGERR_ATTR_OFFS.rawValue)
}

/// Sizes of the fixed headers of <linux/netlink.h>.
enum NetlinkLayout {
    /// struct nlmsghdr.
    static let messageHeader = 16
    /// struct nlattr.
    static let attributeHeader = 4

    /// NLMSG_ALIGN / NLA_ALIGN: 4 bytes.
    @inline(__always)
    static func align(_ n: Int) -> Int { (n + 3) & ~3 }
}
