/// Source NAT of devices' traffic leaving through `uplinkDevice`: none, masquerade (the
/// uplink's own address, nft `masquerade`), or snat to a fixed address (nft `snat to`).
public enum NATMode: Equatable, Sendable {
    case none
    case masquerade
    case snat(IPAddress)
}
