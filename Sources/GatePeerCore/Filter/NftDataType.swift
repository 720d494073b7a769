/// nft data types of set keys (nft's names; each field of a key is padded to 4 bytes).
public enum NftDataType: String, Equatable, Sendable {
    case ipv4 = "ipv4_addr"
    case ipv6 = "ipv6_addr"
    /// One byte: the IP protocol number.
    case proto = "inet_proto"
    /// Two bytes, network order: a port.
    case service = "inet_service"
    /// IFNAMSIZ bytes: an interface name.
    case ifname

    /// ipv4_addr or ipv6_addr for `family`.
    public static func address(_ family: IPAddress.Family) -> NftDataType { family == .v4 ? .ipv4 : .ipv6 }
}
